"""Finds a model's tokenizer files and builds the matching in-graph tokenizer.

Two ways in, mirroring the CLI flags:

- `tokenizer_dir`: a Hugging Face tokenizer directory (as written by `save_pretrained`). The
  family comes from `tokenizer_config.json`'s `tokenizer_class`, else from which files exist;
  casing comes from `tokenizer.json`'s normalizer, else `tokenizer_config.json`, else the
  vocabulary itself (a WordPiece vocabulary with upper-case tokens is cased). A directory with
  only `tokenizer.json` works for WordPiece and byte-level BPE: the vocabulary (and merges) are
  written to a scratch directory that lives as long as the tokenizer, and travel as assets.
- explicit files: `vocab_file` (WordPiece `vocab.txt`, or byte-level BPE `vocab.json` together
  with `merges_file`) or `sp_model_file` (ALBERT if it has `[CLS]`, XLM-R if it has `<s>`).

`do_lower_case`, when given, overrides the detected casing (WordPiece and ALBERT only).
Added and special tokens are read as `transformers` reads them (`added_tokens.vocabulary`); explicit
files get the family's standard special tokens. The tokenizer built splits the text on them first
(`tokenizers.with_added_tokens`); `split_special_tokens` makes special tokens plain text, as HF's
option of that name does.
Anything missing, unreadable or unsupported raises TokenizerFilesError naming the file or flag.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import tempfile
import weakref
from typing import Any

import sentencepiece
import tensorflow as tf

from hubexport import user_files
from hubexport.errors import TokenizerFilesError
from hubexport.preprocess import tokenizer_json
from hubexport.preprocess.added_tokens import vocabulary as added_vocabulary
from hubexport.preprocess.tokenizers.base import InGraphTokenizer

TOKENIZER_CLASSES = {
    "BertTokenizer": "wordpiece",
    "ElectraTokenizer": "wordpiece",
    "DistilBertTokenizer": "wordpiece",
    "AlbertTokenizer": "albert",
    "XLMRobertaTokenizer": "xlm_roberta",
    "RobertaTokenizer": "byte_level_bpe",
}
SENTENCEPIECE_FILES = {"albert": "spiece.model", "xlm_roberta": "sentencepiece.bpe.model"}
TOKENIZER_CONFIG = "tokenizer config"
# The tokenizer_config.json keys read here and the JSON types they must have.
CONFIG_TYPES = {
    "tokenizer_class": (str, type(None)),
    "do_lower_case": (bool,),
    "strip_accents": (bool, type(None)),
    "tokenize_chinese_chars": (bool,),
    "keep_accents": (bool, type(None)),
    "add_prefix_space": (bool, type(None)),
}


@dataclasses.dataclass(frozen=True)
class TokenizerSpec:
    """What to build: a family ("wordpiece", "albert", "xlm_roberta", "byte_level_bpe"), its
    files by constructor argument name, its other constructor arguments, the directory's added
    tokens by id and its named special tokens (HF's `*_token` values)."""

    family: str
    files: dict[str, pathlib.Path]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    added_tokens: dict[int, added_vocabulary.AddedToken] = dataclasses.field(default_factory=dict)
    named_special_tokens: dict[str, Any] = dataclasses.field(default_factory=dict)


def load_tokenizer(
    tokenizer_dir: str | os.PathLike | None = None,
    *,
    vocab_file: str | os.PathLike | None = None,
    merges_file: str | os.PathLike | None = None,
    sp_model_file: str | os.PathLike | None = None,
    do_lower_case: bool | None = None,
    split_special_tokens: bool = False,
) -> InGraphTokenizer:
    """The in-graph tokenizer for a tokenizer directory or for explicit files, with its added tokens."""
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="hubexport-tokenizer-"))
    try:
        spec = describe_tokenizer(
            tokenizer_dir,
            vocab_file=vocab_file,
            merges_file=merges_file,
            sp_model_file=sp_model_file,
            do_lower_case=do_lower_case,
            scratch=scratch,
        )
        tokenizer = build_tokenizer(spec, split_special_tokens=split_special_tokens)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    weakref.finalize(tokenizer, shutil.rmtree, scratch, ignore_errors=True)
    return tokenizer


def describe_tokenizer(
    tokenizer_dir: str | os.PathLike | None = None,
    *,
    vocab_file: str | os.PathLike | None = None,
    merges_file: str | os.PathLike | None = None,
    sp_model_file: str | os.PathLike | None = None,
    do_lower_case: bool | None = None,
    scratch: pathlib.Path,
) -> TokenizerSpec:
    """Detects family, files and options; files extracted from tokenizer.json go to `scratch`."""
    explicit = {"--vocab_file": vocab_file, "--merges_file": merges_file, "--sp_model_file": sp_model_file}
    given = {flag: _existing_file(flag, path) for flag, path in explicit.items() if path is not None}
    if tokenizer_dir is not None and given:
        raise TokenizerFilesError(f"pass either --tokenizer_dir or {', '.join(given)}, not both")
    if tokenizer_dir is not None:
        return _describe_directory(pathlib.Path(tokenizer_dir), do_lower_case, scratch)
    return _describe_files(given, do_lower_case)


def build_tokenizer(spec: TokenizerSpec, *, split_special_tokens: bool = False) -> InGraphTokenizer:
    """Constructs the tokenizer a spec describes, wrapped to honour its added and special tokens.

    Each family's module is imported only when that family is built: they carry large Unicode
    and vocabulary tables that other families do not need.
    """
    if spec.family == "wordpiece":
        from hubexport.preprocess.tokenizers.wordpiece import WordPieceTokenizer as tokenizer_class
    elif spec.family == "albert":
        from hubexport.preprocess.tokenizers.albert import AlbertSentencePieceTokenizer as tokenizer_class
    elif spec.family == "xlm_roberta":
        from hubexport.preprocess.tokenizers.xlm_roberta import XlmRobertaSentencePieceTokenizer as tokenizer_class
    else:
        from hubexport.preprocess.tokenizers.byte_level_bpe import ByteLevelBpeTokenizer as tokenizer_class
    from hubexport.preprocess.tokenizers.with_added_tokens import WithAddedTokens

    files = {name: str(path) for name, path in spec.files.items()}
    try:
        tokenizer = tokenizer_class(**files, **spec.options)
    except (ValueError, OSError, tf.errors.OpError) as error:
        names = ", ".join(files.values())
        raise TokenizerFilesError(f"cannot build a {spec.family} tokenizer from {names}: {error}") from error
    special_ids = dataclasses.asdict(tokenizer.special_tokens)
    added = added_vocabulary.with_special_tokens(spec.added_tokens, spec.family, special_ids, spec.named_special_tokens)
    lowercase = bool(spec.options.get("lowercase"))
    trim_offsets = spec.family == "byte_level_bpe"  # RoBERTa's post-processor trims every token's offsets
    return WithAddedTokens(tokenizer, added, lowercase, split_special_tokens, trim_offsets)


def _existing_file(flag: str, path: str | os.PathLike) -> pathlib.Path:
    """`path` as a Path if it is a readable file, else TokenizerFilesError naming the flag."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise TokenizerFilesError(f"{flag} {path} does not exist or is not a file")
    return path


def _describe_files(given: dict[str, pathlib.Path], do_lower_case: bool | None) -> TokenizerSpec:
    """Spec for explicit --vocab_file / --merges_file / --sp_model_file."""
    vocab, merges, sp_model = (given.get(flag) for flag in ("--vocab_file", "--merges_file", "--sp_model_file"))
    if sp_model is not None:
        if vocab is not None or merges is not None:
            raise TokenizerFilesError("pass either --sp_model_file or --vocab_file (and --merges_file), not both")
        family = _sentencepiece_family(sp_model)
        return _sentencepiece_spec(family, sp_model, {}, do_lower_case)
    if vocab is None:
        if merges is not None:
            raise TokenizerFilesError("--merges_file needs --vocab_file (the vocab.json of the same tokenizer)")
        raise TokenizerFilesError("pass --tokenizer_dir, --vocab_file (with --merges_file for BPE) or --sp_model_file")
    if merges is not None or vocab.suffix == ".json":
        if merges is None:
            raise TokenizerFilesError(f"--vocab_file {vocab} is a BPE vocab.json; pass its merges.txt as --merges_file")
        return _byte_level_bpe_spec(vocab, merges, None, do_lower_case)
    return _wordpiece_spec(vocab, None, {}, do_lower_case)


def _describe_directory(directory: pathlib.Path, do_lower_case: bool | None, scratch: pathlib.Path) -> TokenizerSpec:
    """Spec for a Hugging Face tokenizer directory."""
    if not directory.is_dir():
        raise TokenizerFilesError(f"--tokenizer_dir {directory} does not exist or is not a directory")
    config_path, json_path = directory / "tokenizer_config.json", directory / "tokenizer.json"
    config = _read_config(config_path) if config_path.exists() else {}
    fast = tokenizer_json.read_tokenizer_json(json_path) if json_path.exists() else None
    family = _family_from_class(config, config_path) or _family_from_files(directory, fast)
    added = {
        "added_tokens": added_vocabulary.read_added_tokens(directory, config, fast),
        "named_special_tokens": added_vocabulary.named_special_tokens(directory, config),
    }
    return dataclasses.replace(_describe_family_files(directory, family, config, fast, do_lower_case, scratch), **added)


def _describe_family_files(
    directory: pathlib.Path,
    family: str,
    config: dict[str, Any],
    fast: dict[str, Any] | None,
    do_lower_case: bool | None,
    scratch: pathlib.Path,
) -> TokenizerSpec:
    """The family's files in the directory (extracted from tokenizer.json where needed) and options."""
    json_path = directory / "tokenizer.json"
    if family in SENTENCEPIECE_FILES:
        model = directory / SENTENCEPIECE_FILES[family]
        if not model.is_file():
            raise TokenizerFilesError(
                f"--tokenizer_dir {directory} has no {model.name}; the SentencePiece model file is needed "
                "(tokenizer.json alone is not enough for ALBERT or XLM-R)"
            )
        return _sentencepiece_spec(family, model, config, do_lower_case)
    if family == "wordpiece":
        vocab = directory / "vocab.txt"
        if not vocab.is_file():
            vocab = tokenizer_json.write_wordpiece_vocab(
                _fast_model(fast, "WordPiece", directory, "vocab.txt"), json_path, scratch
            )
        return _wordpiece_spec(vocab, fast, config, do_lower_case)
    vocab, merges = directory / "vocab.json", directory / "merges.txt"
    if not (vocab.is_file() and merges.is_file()):
        vocab, merges = tokenizer_json.write_bpe_files(
            _fast_model(fast, "BPE", directory, "vocab.json and merges.txt"), json_path, scratch
        )
    return _byte_level_bpe_spec(vocab, merges, fast, do_lower_case, config)


def _read_config(path: pathlib.Path) -> dict[str, Any]:
    """tokenizer_config.json, with the keys read here checked to have their JSON types."""
    config = user_files.read_json(path, error=TokenizerFilesError, what=TOKENIZER_CONFIG)
    for key, kinds in CONFIG_TYPES.items():
        if key in config:
            user_files.json_value(
                config[key], kinds, key=key, path=path, error=TokenizerFilesError, what=TOKENIZER_CONFIG
            )
    return config


def _family_from_class(config: dict[str, Any], config_path: pathlib.Path) -> str | None:
    """Family named by tokenizer_config.json's tokenizer_class, None if it names none."""
    name = config.get("tokenizer_class")
    if name is None:
        return None
    family = TOKENIZER_CLASSES.get(name.removesuffix("Fast"))
    if family is None:
        supported = ", ".join(TOKENIZER_CLASSES)
        raise TokenizerFilesError(f"{config_path}: tokenizer_class {name} is not supported (supported: {supported})")
    return family


def _family_from_files(directory: pathlib.Path, fast: dict[str, Any] | None) -> str:
    """Family from the files present when no tokenizer_class says it."""
    if (directory / "sentencepiece.bpe.model").is_file():
        return "xlm_roberta"
    if (directory / "spiece.model").is_file():
        return "albert"
    if (directory / "vocab.txt").is_file():
        return "wordpiece"
    if (directory / "vocab.json").is_file() or (directory / "merges.txt").is_file():
        return "byte_level_bpe"
    model = tokenizer_json.model_type(fast) if fast is not None else None
    if model == "WordPiece":
        return "wordpiece"
    if model == "BPE" and tokenizer_json.byte_level_add_prefix_space(fast) is not None:
        return "byte_level_bpe"
    found = f"tokenizer.json with a {model} model" if model else "no known tokenizer file"
    raise TokenizerFilesError(
        f"--tokenizer_dir {directory}: found {found}; expected vocab.txt (WordPiece), vocab.json + merges.txt "
        "(byte-level BPE), spiece.model (ALBERT), sentencepiece.bpe.model (XLM-R), or a tokenizer.json with a "
        "WordPiece or byte-level BPE model"
    )


def _fast_model(fast: dict[str, Any] | None, kind: str, directory: pathlib.Path, files: str) -> dict[str, Any]:
    """tokenizer.json when it holds a `kind` model, else TokenizerFilesError naming the missing files."""
    if fast is None or tokenizer_json.model_type(fast) != kind:
        raise TokenizerFilesError(
            f"--tokenizer_dir {directory} has no {files} and no tokenizer.json with a {kind} model"
        )
    return fast


def _sentencepiece_family(model: pathlib.Path) -> str:
    """ "albert" if the model has ALBERT's `[CLS]`/`[SEP]` pieces, "xlm_roberta" if `<s>`/`</s>`."""
    try:
        processor = sentencepiece.SentencePieceProcessor(model_file=str(model))
    except (OSError, RuntimeError) as error:
        raise TokenizerFilesError(f"--sp_model_file {model} is not a SentencePiece model: {error}") from error

    def has(piece: str) -> bool:
        return processor.piece_to_id(piece) != processor.unk_id()

    if has("[CLS]") and has("[SEP]"):
        return "albert"
    if has("<s>") and has("</s>"):
        return "xlm_roberta"
    raise TokenizerFilesError(f"--sp_model_file {model} has neither [CLS]/[SEP] (ALBERT) nor <s>/</s> (XLM-R) pieces")


def _sentencepiece_spec(
    family: str, model: pathlib.Path, config: dict[str, Any], do_lower_case: bool | None
) -> TokenizerSpec:
    """ALBERT (casing from the flag or config, accents from config) or XLM-R (no options)."""
    if family == "xlm_roberta":
        _refuse_lowercase(do_lower_case, "XLM-R")
        return TokenizerSpec(family, {"model_file": model})
    lowercase = do_lower_case if do_lower_case is not None else bool(config.get("do_lower_case", True))
    options = {"lowercase": lowercase, "keep_accents": bool(config.get("keep_accents", False))}
    return TokenizerSpec(family, {"model_file": model}, options)


def _wordpiece_spec(
    vocab: pathlib.Path, fast: dict[str, Any] | None, config: dict[str, Any], do_lower_case: bool | None
) -> TokenizerSpec:
    """WordPiece casing: the flag, else tokenizer.json's BertNormalizer, else config, else the vocab."""
    normalizer = tokenizer_json.bert_normalizer(fast) if fast is not None else None
    if normalizer is not None:
        settings = {
            "lowercase": normalizer.get("lowercase", True),
            "strip_accents": normalizer.get("strip_accents"),
            "tokenize_chinese_chars": normalizer.get("handle_chinese_chars", True),
        }
    elif "do_lower_case" in config:
        settings = {
            "lowercase": config["do_lower_case"],
            "strip_accents": config.get("strip_accents"),
            "tokenize_chinese_chars": config.get("tokenize_chinese_chars", True),
        }
    else:
        settings = {
            "lowercase": not _has_upper_case_tokens(vocab),
            "strip_accents": None,
            "tokenize_chinese_chars": True,
        }
    if do_lower_case is not None:
        settings["lowercase"] = do_lower_case
    return TokenizerSpec("wordpiece", {"vocab_file": vocab}, settings)


def _has_upper_case_tokens(vocab: pathlib.Path) -> bool:
    """True if a non-special token has upper-case letters: the vocabulary of a cased model."""
    from hubexport.preprocess.tokenizers.wordpiece import read_vocab

    for line in read_vocab(vocab):
        token = line.strip()
        if not (token.startswith("[") and token.endswith("]")) and token != token.lower():
            return True
    return False


def _byte_level_bpe_spec(
    vocab: pathlib.Path,
    merges: pathlib.Path,
    fast: dict[str, Any] | None,
    do_lower_case: bool | None,
    config: dict[str, Any] | None = None,
) -> TokenizerSpec:
    """RoBERTa's byte-level BPE; add_prefix_space from tokenizer.json, else config, else False."""
    _refuse_lowercase(do_lower_case, "byte-level BPE (RoBERTa)")
    add_prefix_space = tokenizer_json.byte_level_add_prefix_space(fast) if fast is not None else None
    if add_prefix_space is None:
        add_prefix_space = bool((config or {}).get("add_prefix_space", False))
    return TokenizerSpec(
        "byte_level_bpe", {"vocab_file": vocab, "merges_file": merges}, {"add_prefix_space": add_prefix_space}
    )


def _refuse_lowercase(do_lower_case: bool | None, family: str) -> None:
    """Lower-casing is not an option of this family's tokenizer."""
    if do_lower_case:
        raise TokenizerFilesError(f"--do_lower_case does not apply to {family} tokenizers, which are cased")
