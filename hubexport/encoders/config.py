"""`EncoderConfig`: every architectural choice of an encoder, as data.

The numerics that differ between checkpoints (activation, layer-norm epsilon, position ids, the
token-type table, the pooler) live here as configuration so that one encoder implementation
serves all five families and matches each reference exactly.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from hubexport import user_files
from hubexport.errors import ConfigError

FAMILIES = ("bert", "roberta", "xlm_roberta", "albert", "electra")
ACTIVATIONS = ("gelu", "gelu_approximate", "relu")
POSITION_STYLES = ("absolute", "padding_offset")
POOLERS = ("dense_tanh", "first_token")


def _is_integer(value: Any) -> bool:
    """An int as JSON gives one: true and false are not integers."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, float) or _is_integer(value)


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Architecture of a post-LayerNorm transformer encoder.

    `num_groups` groups of `num_inner_repetitions` blocks are shared across `num_layers` virtual
    layers (ALBERT); `num_groups=None` means every layer has its own weights. `embedding_dim`
    differs from `hidden_dim` for factorized embeddings (ALBERT, small ELECTRA), which are then
    projected. `position_style="padding_offset"` is RoBERTa's: position ids are
    `cumsum(mask) * mask + padding_position`, so the table has `max_sequence_length +
    padding_position + 1` rows. `num_segments=0` means no token-type table.
    """

    family: str
    vocabulary_size: int
    num_layers: int
    num_heads: int
    hidden_dim: int
    intermediate_dim: int
    embedding_dim: int | None = None
    num_groups: int | None = None
    num_inner_repetitions: int = 1
    dropout: float = 0.1
    attention_dropout: float | None = None
    max_sequence_length: int = 512
    num_segments: int = 2
    hidden_activation: str = "gelu"
    layer_norm_epsilon: float = 1e-12
    position_style: str = "absolute"
    padding_position: int = 1
    pooler: str = "dense_tanh"
    always_project_embeddings: bool = False
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        self.validate()

    @property
    def resolved_embedding_dim(self) -> int:
        return self.embedding_dim or self.hidden_dim

    @property
    def resolved_num_groups(self) -> int:
        return self.num_groups or self.num_layers

    @property
    def resolved_attention_dropout(self) -> float:
        return self.dropout if self.attention_dropout is None else self.attention_dropout

    @property
    def projects_embeddings(self) -> bool:
        """ALBERT always projects; others only when the embedding width differs."""
        return self.always_project_embeddings or self.resolved_embedding_dim != self.hidden_dim

    @property
    def position_table_size(self) -> int:
        if self.position_style == "padding_offset":
            return self.max_sequence_length + self.padding_position + 1
        return self.max_sequence_length

    def group_of_layer(self, layer_index: int) -> int:
        """The shared group that virtual layer `layer_index` runs (ALBERT's routing)."""
        return layer_index // (self.num_layers // self.resolved_num_groups)

    def validate(self) -> None:
        """Raises ConfigError naming the first invalid field."""

        def fail(message: str) -> None:
            raise ConfigError(f"invalid encoder config: {message}")

        if self.family not in FAMILIES:
            fail(f"family={self.family!r}, expected one of {FAMILIES}")
        for name in (
            "vocabulary_size",
            "num_layers",
            "num_heads",
            "hidden_dim",
            "intermediate_dim",
            "max_sequence_length",
            "num_inner_repetitions",
        ):
            value = getattr(self, name)
            if not (_is_integer(value) and value > 0):
                fail(f"{name}={value!r} must be a positive integer")
        if self.embedding_dim is not None and not (_is_integer(self.embedding_dim) and self.embedding_dim > 0):
            fail(f"embedding_dim={self.embedding_dim!r} must be a positive integer")
        if self.hidden_dim % self.num_heads:
            fail(f"hidden_dim={self.hidden_dim} is not divisible by num_heads={self.num_heads}")
        groups = self.resolved_num_groups
        if not (_is_integer(groups) and groups > 0) or self.num_layers % groups:
            fail(f"num_layers={self.num_layers} must be divisible by num_groups={self.num_groups}")
        for name in ("num_segments", "padding_position"):
            value = getattr(self, name)
            if not (_is_integer(value) and value >= 0):
                fail(f"{name}={value!r} must be a non-negative integer")
        for name in ("dropout", "attention_dropout"):
            value = getattr(self, name)
            if value is not None and not (_is_number(value) and 0.0 <= value < 1.0):
                fail(f"{name}={value!r} must be a number in [0, 1)")
        if self.hidden_activation not in ACTIVATIONS:
            fail(f"hidden_activation={self.hidden_activation!r}, expected one of {ACTIVATIONS}")
        if self.position_style not in POSITION_STYLES:
            fail(f"position_style={self.position_style!r}, expected one of {POSITION_STYLES}")
        if self.pooler not in POOLERS:
            fail(f"pooler={self.pooler!r}, expected one of {POOLERS}")
        if not (_is_number(self.layer_norm_epsilon) and self.layer_norm_epsilon > 0):
            fail(f"layer_norm_epsilon={self.layer_norm_epsilon!r} must be a positive number")
        if not (_is_number(self.initializer_range) and self.initializer_range >= 0):
            fail(f"initializer_range={self.initializer_range!r} must be a non-negative number")
        if not isinstance(self.always_project_embeddings, bool):
            fail(f"always_project_embeddings={self.always_project_embeddings!r} must be true or false")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> EncoderConfig:
        """Builds a config, naming `source` and the offending keys on error."""
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: encoder config must be a JSON object")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown encoder config keys {unknown}")
        missing = sorted(
            f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING and f.name not in values
        )
        if missing:
            raise ConfigError(f"{source}: missing encoder config keys {missing}")
        try:
            return cls(**values)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> EncoderConfig:
        """Reads a JSON file holding either the config itself or a preset with an `encoder` key; ConfigError
        naming the file if it cannot be read, is not a JSON object or not a valid config."""
        values = user_files.read_json(path, error=ConfigError, what="encoder config")
        if "encoder" in values:
            values = values["encoder"]
        return cls.from_dict(values, source=str(path))
