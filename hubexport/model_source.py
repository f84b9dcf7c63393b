"""Where an encoder comes from: a built-in preset or a config file, and optionally a checkpoint."""
from __future__ import annotations

import dataclasses

import keras

from hubexport.encoders.backbone import EncoderBackbone
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.presets import get_preset
from hubexport.errors import ConfigError


@dataclasses.dataclass
class EncoderSource:
    """A built encoder and a description of its origin for logs and export metadata."""

    model: EncoderBackbone
    architecture: str
    weights: str


def encoder_config_from(preset: str | None, config_file: str | None) -> tuple[EncoderConfig, str]:
    """The encoder config named by exactly one of `preset` and `config_file`, and its label."""
    if bool(preset) == bool(config_file):
        raise ConfigError("pass exactly one of --preset and --config_file")
    if preset:
        return get_preset(preset).encoder, f"preset {preset}"
    return EncoderConfig.from_json_file(config_file), f"config file {config_file}"


def build_encoder(preset: str | None, config_file: str | None, dtype: str = "float32",
                  seed: int | None = None, checkpoint: str | None = None,
                  checkpoint_format: str | None = None) -> EncoderSource:
    """Builds an encoder from a preset or a config file, with random weights.

    Checkpoint import is not implemented yet: `checkpoint` is refused with a clear error.
    """
    if checkpoint:
        raise ConfigError(f"--checkpoint {checkpoint}: checkpoint import is not implemented yet "
                          f"(format {checkpoint_format or 'auto'})")
    config, architecture = encoder_config_from(preset, config_file)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = EncoderBackbone.from_config({"encoder_config": config.to_dict(), "dtype": dtype})
    return EncoderSource(model=model, architecture=architecture, weights="random initialization")
