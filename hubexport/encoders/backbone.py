"""`EncoderBackbone`: the Keras 3 encoder every family class builds.

It maps `token_ids`, `segment_ids` (optional) and `padding_mask` to `sequence_output`,
`pooled_output` and `encoder_outputs` (one per virtual layer). ALBERT's groups are ordinary
shared blocks here: `num_groups * num_inner_repetitions` blocks are stored, `num_layers` outputs
are produced.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import keras
from keras import ops

from hubexport.encoders import presets as preset_registry
from hubexport.encoders.attention import attention_bias
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.embeddings import EncoderEmbeddings
from hubexport.encoders.pooler import Pooler
from hubexport.encoders.transformer_block import TransformerBlock
from hubexport.errors import ConfigError

PRESET_CONFIG_FILE = "config.json"
PRESET_WEIGHTS_FILE = "model.weights.h5"


class classproperty:
    """A read-only property on the class, as keras-hub's `Backbone.presets`."""

    def __init__(self, getter):
        self.getter = getter

    def __get__(self, instance, owner):
        return self.getter(owner)


class EncoderBackbone(keras.Model):
    """A post-LayerNorm transformer encoder described by an `EncoderConfig`."""

    family: str | None = None

    def __init__(self, config: EncoderConfig, dtype=None, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        if self.family is not None and config.family not in self._families():
            raise ConfigError(f"{type(self).__name__} cannot build a {config.family!r} encoder")
        self.config = config
        policy = self.dtype_policy
        self.embeddings = EncoderEmbeddings(config, dtype=policy, name="embeddings")
        self.blocks = [
            TransformerBlock(config, dtype=policy, name=f"group_{g}_block_{r}")
            for g in range(config.resolved_num_groups)
            for r in range(config.num_inner_repetitions)
        ]
        self.pooler = Pooler(config, dtype=policy, name="pooler")
        self(self._dummy_inputs())

    @classmethod
    def _families(cls) -> tuple[str, ...]:
        return (cls.family,) if cls.family else ()

    @staticmethod
    def _dummy_inputs() -> dict[str, Any]:
        one = ops.ones((1, 2), dtype="int32")
        return {"token_ids": one, "segment_ids": ops.zeros_like(one), "padding_mask": one}

    @property
    def token_embedding(self) -> keras.layers.Embedding:
        """The `keras.layers.Embedding` that embeds token ids (at `embedding_dim`)."""
        return self.embeddings.token_embedding

    def quantize(self, mode: str, config=None) -> None:
        """Makes this float32 encoder a serving-only int8 one: every dense layer of every transformer block
        (query/key/value, attention output, intermediate, output) multiplies in int8 (`TokenDense.quantize`);
        embeddings, layer norms, attention scores and the pooler stay float32, and nothing stays trainable.

        Keras' own `Model.quantize` would also quantize the embedding tables; only `mode="int8"` is taken, and
        Keras' `config` (its wrapper passes one) is not read.
        """
        for block in self.blocks:
            for dense in block.dense_layers:
                dense.quantize(mode)
        self.trainable = False

    @property
    def is_int8(self) -> bool:
        """Whether `quantize("int8")` made the transformer blocks' dense layers int8."""
        return self.blocks[0].dense_layers[0].int8

    def call(self, inputs: dict[str, Any], training=None) -> dict[str, Any]:
        token_ids = inputs["token_ids"]
        padding_mask = inputs["padding_mask"]
        segment_ids = inputs.get("segment_ids")
        if segment_ids is None:
            segment_ids = ops.zeros_like(token_ids)
        hidden = self.embeddings(token_ids, segment_ids, padding_mask, training=training)
        bias = attention_bias(padding_mask, "float32")
        encoder_outputs = []
        repetitions = self.config.num_inner_repetitions
        for layer_index in range(self.config.num_layers):
            first = self.config.group_of_layer(layer_index) * repetitions
            for block in self.blocks[first : first + repetitions]:
                hidden = block(hidden, bias, training=training)
            encoder_outputs.append(hidden)
        return {
            "sequence_output": hidden,
            "pooled_output": self.pooler(hidden),
            "encoder_outputs": encoder_outputs,
        }

    def get_config(self) -> dict[str, Any]:
        return {
            "encoder_config": self.config.to_dict(),
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EncoderBackbone:
        encoder = EncoderConfig.from_dict(config["encoder_config"])
        return _class_for(cls, encoder.family)._build(encoder, dtype=config.get("dtype"), name=config.get("name"))

    @classmethod
    def _build(cls, config: EncoderConfig, dtype=None, **kwargs) -> EncoderBackbone:
        """Builds this class from a finished config (family classes take their own arguments)."""
        model = cls.__new__(cls)
        EncoderBackbone.__init__(model, config, dtype=dtype, **kwargs)
        return model

    @classproperty
    def presets(cls) -> dict[str, preset_registry.Preset]:
        """The built-in presets this class can build, by name."""
        families = cls._families()
        return {
            name: preset
            for name, preset in preset_registry.all_presets().items()
            if not families or preset.family in families
        }

    @classmethod
    def from_preset(cls, preset: str, load_weights: bool = True, **overrides) -> EncoderBackbone:
        """Builds from a built-in preset name or a local preset directory.

        `overrides` replace config fields (e.g. `dropout`) or set `dtype`. Built-in presets ship
        no weights, so they need `load_weights=False`; a directory written by `save_to_preset`
        carries its weights.
        """
        dtype = overrides.pop("dtype", None)
        if os.path.isdir(preset):
            config, weights = _read_preset_dir(pathlib.Path(preset))
        elif preset in cls.presets:
            config, weights = cls.presets[preset].encoder, None
            if load_weights:
                raise ConfigError(
                    f"preset {preset!r} ships no weights: pass load_weights=False for random weights, "
                    "or a local preset or checkpoint directory"
                )
        else:
            raise ConfigError(
                f"{preset!r} is neither a local directory nor a preset of {cls.__name__}; "
                f"known presets: {', '.join(cls.presets)}"
            )
        if overrides:
            config = EncoderConfig.from_dict({**config.to_dict(), **overrides}, source=f"overrides of {preset}")
        model = _class_for(cls, config.family)._build(config, dtype=dtype)
        if load_weights and weights is not None:
            model.load_weights(weights)
        return model

    def save_to_preset(self, preset_dir: str | os.PathLike) -> None:
        """Writes `config.json` and `model.weights.h5` that `from_preset(dir)` reads back."""
        preset_dir = pathlib.Path(preset_dir)
        preset_dir.mkdir(parents=True, exist_ok=True)
        payload = {"format": "hubexport", "encoder": self.config.to_dict()}
        (preset_dir / PRESET_CONFIG_FILE).write_text(json.dumps(payload, indent=2) + "\n")
        self.save_weights(preset_dir / PRESET_WEIGHTS_FILE)


def _read_preset_dir(preset_dir: pathlib.Path) -> tuple[EncoderConfig, pathlib.Path | None]:
    config_path = preset_dir / PRESET_CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"preset directory {preset_dir} has no {PRESET_CONFIG_FILE}")
    weights = preset_dir / PRESET_WEIGHTS_FILE
    return EncoderConfig.from_json_file(config_path), weights if weights.is_file() else None


_FAMILY_CLASSES: dict[str, type[EncoderBackbone]] = {}


def register_family(cls: type[EncoderBackbone]) -> type[EncoderBackbone]:
    """Class decorator: the class that `from_preset`/`from_config` build for `cls.family`."""
    _FAMILY_CLASSES[cls.family] = cls
    return cls


def _class_for(requested: type[EncoderBackbone], family: str) -> type[EncoderBackbone]:
    """The family class for `family`; a family class asked for another family is an error."""
    if requested.family is not None and requested.family != family:
        raise ConfigError(f"{requested.__name__} cannot load a {family!r} encoder")
    return _FAMILY_CLASSES.get(family, requested)
