"""Hugging Face `config.json` (and Google's `bert_config.json`, same keys) -> `EncoderConfig`.

Sizes, vocabulary, positions, token types, activation and LayerNorm epsilon come from the file.
RoBERTa/XLM-R tables have `max_position_embeddings = max_sequence_length + pad_token_id + 1` rows
(fairseq's padding offset); ALBERT's groups and ELECTRA's embedding width are read as well. The
pooler is decided later from the weights (`pooled_output.py`).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from hubexport import user_files
from hubexport.encoders import activations
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.mlm_head import MaskedLMHeadSpec
from hubexport.errors import ConfigError

MODEL_CONFIG = "model config"
MODEL_TYPES = {
    "bert": "bert",
    "roberta": "roberta",
    "xlm-roberta": "xlm_roberta",
    "albert": "albert",
    "electra": "electra",
}


@dataclasses.dataclass(frozen=True)
class HfArchitecture:
    """What a config file says: the encoder (pooler still to be decided) and its LM head numerics."""

    family: str
    config: EncoderConfig
    mlm: MaskedLMHeadSpec
    architectures: tuple[str, ...]


def read_json(path: pathlib.Path) -> dict[str, Any]:
    """The JSON object in a model's config file (config.json, bert_config.json, keras-hub's task.json), or a
    ConfigError naming the file and the problem."""
    return user_files.read_json(path, error=ConfigError, what=MODEL_CONFIG)


def family_of(values: dict[str, Any], source: str) -> str:
    model_type = values.get("model_type")
    if not isinstance(model_type, str) or model_type not in MODEL_TYPES:
        raise ConfigError(f"{source}: model_type={model_type!r} is not supported; supported: {', '.join(MODEL_TYPES)}")
    return MODEL_TYPES[model_type]


def read_hf_config(path: pathlib.Path, family: str | None = None) -> HfArchitecture:
    """Parses a config file; `family` is given for files without `model_type` (Google's)."""
    values = read_json(path)
    return architecture_from(values, family or family_of(values, str(path)), str(path))


def architecture_from(values: dict[str, Any], family: str, source: str) -> HfArchitecture:
    """The encoder config for `family` from Hugging Face config keys."""

    def get(key: str, default: Any = dataclasses.MISSING, kinds: tuple[type, ...] | None = None) -> Any:
        """values[key] (`default` when absent or null), checked to be of the JSON types `kinds` if given."""
        if key in values and values[key] is not None:
            value = values[key]
            return (
                value
                if kinds is None
                else user_files.json_value(value, kinds, key=key, path=source, error=ConfigError, what=MODEL_CONFIG)
            )
        if default is dataclasses.MISSING:
            raise ConfigError(f"{source}: missing {key!r}")
        return default

    if get("position_embedding_type", "absolute") != "absolute":
        raise ConfigError(
            f"{source}: position_embedding_type={values['position_embedding_type']!r} "
            "is not supported (only 'absolute')"
        )
    if get("is_decoder", False) or get("add_cross_attention", False):
        raise ConfigError(f"{source}: decoder configurations are not supported")
    try:
        hidden_activation = activations.from_hf_name(get("hidden_act", "gelu", (str,)))
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    fields: dict[str, Any] = dict(
        family=family,
        vocabulary_size=get("vocab_size"),
        num_layers=get("num_hidden_layers"),
        num_heads=get("num_attention_heads"),
        hidden_dim=get("hidden_size"),
        intermediate_dim=get("intermediate_size"),
        dropout=get("hidden_dropout_prob", 0.1),
        attention_dropout=get("attention_probs_dropout_prob", 0.1),
        max_sequence_length=get("max_position_embeddings", 512, (int,)),
        num_segments=get("type_vocab_size", 2),
        hidden_activation=hidden_activation,
        layer_norm_epsilon=get("layer_norm_eps", 1e-12),
        initializer_range=get("initializer_range", 0.02),
        pooler="dense_tanh" if family in ("bert", "albert") else "first_token",
    )
    if family in ("roberta", "xlm_roberta"):
        pad = get("pad_token_id", 1, (int,))
        fields.update(
            position_style="padding_offset",
            padding_position=pad,
            max_sequence_length=fields["max_sequence_length"] - pad - 1,
        )
    if family == "albert":
        fields.update(
            embedding_dim=get("embedding_size", 128),
            num_groups=get("num_hidden_groups", 1),
            num_inner_repetitions=get("inner_group_num", 1),
            always_project_embeddings=True,
        )
    if family == "electra":
        fields.update(embedding_dim=get("embedding_size", 128))
    config = EncoderConfig.from_dict(fields, source=source)
    mlm = MaskedLMHeadSpec.for_config(config, tied=bool(get("tie_word_embeddings", True)))
    architectures = get("architectures", [], (list,))
    for index, name in enumerate(architectures):
        user_files.json_value(
            name, (str,), key=f"architectures[{index}]", path=source, error=ConfigError, what=MODEL_CONFIG
        )
    return HfArchitecture(family, config, mlm, tuple(architectures))
