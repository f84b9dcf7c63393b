"""Reads a sentence-transformers model directory: the chain `SentenceTransformer(dir).encode` runs.

A directory holding `modules.json` is one. hubexport exports the chain
`Transformer` (the Hugging Face model in the directory itself) -> `Pooling` -> any `Dense` and
`Normalize` modules, in the listed order; any other module, or another order, is a ConfigError naming
it, so nothing is skipped. What is read, as sentence-transformers 5 reads it:

- Transformer: `sentence_bert_config.json` (or a legacy `sentence_<family>_config.json`): `max_seq_length`
  (a `model_max_length` in its `processor_kwargs` / `tokenizer_args` wins; unset, the tokenizer's
  `model_max_length` from `tokenizer_config.json` applies, capped at the encoder's positions) and
  `do_lower_case`;
- Pooling: `<path>/config.json`: `pooling_mode` (a name or a list, concatenated in the listed order), or
  the legacy `pooling_mode_*` booleans, concatenated in sentence-transformers' fixed order (mean when
  none is set); `include_prompt` (it only matters with a prompt, and prompts are refused);
- Dense: see sentence_transformers_dense; Normalize: no files.

`config_sentence_transformers.json` naming a `default_prompt_name` is refused: encode would prepend
that prompt to every text.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

from hubexport import user_files
from hubexport.checkpoints.sentence_transformers_dense import DenseModule, read_dense_module
from hubexport.errors import ConfigError

MODULES_FILE = "modules.json"
TRANSFORMER_CONFIG_FILES = (
    "sentence_bert_config.json",
    "sentence_roberta_config.json",
    "sentence_distilbert_config.json",
    "sentence_camembert_config.json",
    "sentence_albert_config.json",
    "sentence_xlm-roberta_config.json",
)
MODEL_CONFIG_FILE = "config_sentence_transformers.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
# The legacy boolean keys, in the order sentence-transformers concatenates their outputs.
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
TRANSFORMER, POOLING, DENSE, NORMALIZE = "Transformer", "Pooling", "Dense", "Normalize"
MODULE_TYPES = (TRANSFORMER, POOLING, DENSE, NORMALIZE)


@dataclasses.dataclass(frozen=True)
class Normalization:
    """The Normalize module: L2 normalization of the sentence embedding."""

    path: str


HeadModule = DenseModule | Normalization


@dataclasses.dataclass(frozen=True, eq=False)
class SentenceTransformersChain:
    """What `SentenceTransformer(directory).encode` computes after the encoder.

    `pooling_modes` are concatenated in order, then `head` (Dense and Normalize modules) runs in order.
    """

    directory: pathlib.Path
    module_types: tuple[str, ...]
    max_seq_length: int | None
    tokenizer_max_length: int | None
    do_lower_case: bool
    pooling_modes: tuple[str, ...]
    pooling_dimension: int | None
    include_prompt: bool
    head: tuple[HeadModule, ...]

    def default_seq_length(self, encoder_positions: int) -> int:
        """The sequence length encode truncates to, for an encoder of `encoder_positions` positions."""
        if self.max_seq_length is not None:
            return self.max_seq_length
        return min(encoder_positions, self.tokenizer_max_length or encoder_positions)

    def embedding_dim(self, hidden_dim: int) -> int:
        """The size of the sentence embedding for an encoder of `hidden_dim`."""
        dense = [module for module in self.head if isinstance(module, DenseModule)]
        return int(dense[-1].kernel.shape[1]) if dense else len(self.pooling_modes) * hidden_dim

    def check_fits(self, hidden_dim: int) -> None:
        """Refuses a chain whose Pooling or Dense sizes do not follow from an encoder of `hidden_dim`."""
        if self.pooling_dimension is not None and self.pooling_dimension != hidden_dim:
            raise ConfigError(
                f"{self.directory}: the Pooling module expects token embeddings of size "
                f"{self.pooling_dimension}, the encoder's hidden size is {hidden_dim}"
            )
        size = len(self.pooling_modes) * hidden_dim
        for module in self.head:
            if isinstance(module, DenseModule):
                if module.kernel.shape[0] != size:
                    raise ConfigError(
                        f"{self.directory}: Dense module {module.path!r} takes {module.kernel.shape[0]} "
                        f"features, but the modules before it give {size}"
                    )
                size = int(module.kernel.shape[1])

    def describe(self, seq_length: int, hidden_dim: int) -> dict[str, Any]:
        """The export metadata's `sentence_transformers` entry."""
        return {
            "modules": list(self.module_types),
            "max_seq_length": seq_length,
            "do_lower_case": self.do_lower_case,
            "pooling": list(self.pooling_modes),
            "include_prompt": self.include_prompt,
            "dense": [module.describe() for module in self.head if isinstance(module, DenseModule)],
            "normalize": any(isinstance(module, Normalization) for module in self.head),
            "embedding_dim": self.embedding_dim(hidden_dim),
        }


def is_sentence_transformers_dir(path: str | pathlib.Path | None) -> bool:
    """Whether `path` is a directory holding `modules.json`."""
    return path is not None and (pathlib.Path(path) / MODULES_FILE).is_file()


def read_sentence_transformers_dir(directory: str | pathlib.Path) -> SentenceTransformersChain:
    """The chain the directory's `modules.json` lists; ConfigError naming the module hubexport cannot export."""
    directory = pathlib.Path(directory)
    modules = _modules(directory / MODULES_FILE)
    _refuse_default_prompt(directory / MODEL_CONFIG_FILE)
    types = tuple(kind for kind, _ in modules)
    expected = f"hubexport exports {TRANSFORMER} -> {POOLING} -> any {DENSE} / {NORMALIZE} modules"
    if types[:2] != (TRANSFORMER, POOLING) or any(kind not in (DENSE, NORMALIZE) for kind in types[2:]):
        raise ConfigError(f"{directory / MODULES_FILE}: modules {' -> '.join(types)} are not a chain {expected}")
    transformer_path, pooling_path = modules[0][1], modules[1][1]
    if transformer_path not in ("", "."):
        raise ConfigError(
            f"{directory / MODULES_FILE}: the Transformer module is in {transformer_path!r}; hubexport "
            'reads the encoder from the directory itself (path "")'
        )
    transformer = _transformer_config(directory)
    modes, dimension, include_prompt = _pooling_config(directory / pooling_path / "config.json")
    head = tuple(
        read_dense_module(directory, path) if kind == DENSE else Normalization(path) for kind, path in modules[2:]
    )
    return SentenceTransformersChain(
        directory=directory,
        module_types=types,
        max_seq_length=transformer["max_seq_length"],
        tokenizer_max_length=_tokenizer_max_length(directory / TOKENIZER_CONFIG_FILE),
        do_lower_case=transformer["do_lower_case"],
        pooling_modes=modes,
        pooling_dimension=dimension,
        include_prompt=include_prompt,
        head=head,
    )


def _modules(path: pathlib.Path) -> list[tuple[str, str]]:
    """(type name such as "Pooling", path) of each module in `modules.json`, in order."""
    what = "sentence-transformers modules.json"
    text = user_files.read_text(path, error=ConfigError, what=what)
    try:  # modules.json is a JSON array, which user_files.read_json (objects only) refuses
        entries = json.loads(text)
    except ValueError as raised:
        raise user_files.file_error(path, f"not valid JSON: {raised}", error=ConfigError, what=what) from None
    entries = user_files.json_value(entries, (list,), key="the top level", path=path, error=ConfigError, what=what)
    if not entries:
        raise user_files.file_error(path, "it lists no modules", error=ConfigError, what=what)
    modules = []
    for index, entry in enumerate(entries):
        entry = user_files.json_value(entry, (dict,), key=f"module {index}", path=path, error=ConfigError, what=what)
        name = entry.get("name", str(index))
        kind = user_files.json_value(
            entry.get("type"), (str,), key=f"module {index}'s type", path=path, error=ConfigError, what=what
        )
        module_path = user_files.json_value(
            entry.get("path", ""), (str,), key=f"module {index}'s path", path=path, error=ConfigError, what=what
        )
        class_name = kind.rsplit(".", 1)[-1]
        if not kind.startswith("sentence_transformers.") or class_name not in MODULE_TYPES:
            raise ConfigError(
                f"{path}: module {name!r} has type {kind!r}, which hubexport cannot export (it exports "
                f"sentence-transformers' {', '.join(MODULE_TYPES)})"
            )
        modules.append((class_name, module_path))
    return modules


def _refuse_default_prompt(path: pathlib.Path) -> None:
    if not path.is_file():
        return
    config = user_files.read_json(path, error=ConfigError, what="sentence-transformers model config")
    if config.get("default_prompt_name"):
        raise ConfigError(
            f"{path}: default_prompt_name {config['default_prompt_name']!r} makes encode prepend a "
            "prompt to every text; hubexport does not export prompts"
        )


def _transformer_config(directory: pathlib.Path) -> dict[str, Any]:
    """`max_seq_length` (int or None) and `do_lower_case` of the Transformer module."""
    found = [directory / name for name in TRANSFORMER_CONFIG_FILES if (directory / name).is_file()]
    if not found:
        return {"max_seq_length": None, "do_lower_case": False}
    path, what = found[0], "sentence-transformers Transformer config"
    config = user_files.read_json(path, error=ConfigError, what=what)

    def value(container: dict[str, Any], key: str, kinds: tuple[type, ...], default: Any) -> Any:
        return user_files.json_value(
            container.get(key, default), kinds, key=key, path=path, error=ConfigError, what=what
        )

    task = value(config, "transformer_task", (str,), "feature-extraction")
    if task != "feature-extraction":
        raise ConfigError(f"{path}: transformer_task {task!r}; hubexport exports feature-extraction Transformers")
    max_seq_length = value(config, "max_seq_length", (int, type(None)), None)
    for key in ("processor_kwargs", "tokenizer_args"):
        kwargs = value(config, key, (dict,), {})
        if "model_max_length" in kwargs:
            max_seq_length = value(kwargs, "model_max_length", (int,), None)
    return {"max_seq_length": max_seq_length, "do_lower_case": value(config, "do_lower_case", (bool,), False)}


def _pooling_config(path: pathlib.Path) -> tuple[tuple[str, ...], int | None, bool]:
    """The Pooling module's modes (in concatenation order), token embedding size and include_prompt."""
    what = "sentence-transformers Pooling config"
    config = user_files.read_json(path, error=ConfigError, what=what)

    def value(key: str, kinds: tuple[type, ...], default: Any) -> Any:
        return user_files.json_value(config.get(key, default), kinds, key=key, path=path, error=ConfigError, what=what)

    if "pooling_mode" in config:
        given = value("pooling_mode", (str, list), None)
        modes = (given,) if isinstance(given, str) else tuple(given)
    else:
        modes = tuple(mode for key, mode in LEGACY_POOLING_KEYS.items() if value(key, (bool,), False)) or ("mean",)
    unknown = [mode for mode in modes if mode not in POOLING_MODES]
    if unknown or not modes:
        raise user_files.file_error(
            path, f"pooling_mode {list(modes)} is not made of {', '.join(POOLING_MODES)}", error=ConfigError, what=what
        )
    dimension = value("embedding_dimension", (int, type(None)), config.get("word_embedding_dimension"))
    return modes, dimension, value("include_prompt", (bool,), True)


def _tokenizer_max_length(path: pathlib.Path) -> int | None:
    """The tokenizer's `model_max_length` (None when unset or absent)."""
    if not path.is_file():
        return None
    config = user_files.read_json(path, error=ConfigError, what="tokenizer config")
    length = config.get("model_max_length")
    return length if isinstance(length, int) and not isinstance(length, bool) else None
