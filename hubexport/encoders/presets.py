"""Built-in presets: one JSON file per named architecture in the repository's `configs/`.

Each file holds the encoder config, the family, a description, how the seed parameter table
counts (`parameter_table`), the tokenizer kind and `weights`, the public checkpoint handle the
architecture comes from. Presets ship no weights themselves: weights come from a checkpoint
(`--checkpoint`, `from_preset(<local dir>)`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import pathlib
from typing import Any

from hubexport import user_files
from hubexport.encoders.config import EncoderConfig
from hubexport.errors import ConfigError

_SOURCE_TREE_CONFIGS = pathlib.Path(__file__).resolve().parents[2] / "configs"


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named architecture and what the seed tables say about it."""

    name: str
    description: str
    encoder: EncoderConfig
    parameter_table: dict[str, Any]
    tokenizer: dict[str, Any]
    path: pathlib.Path
    weights: str | None = None

    @property
    def family(self) -> str:
        return self.encoder.family


def config_dir() -> pathlib.Path:
    """`configs/` of the source tree, else the copy installed as package data."""
    if _SOURCE_TREE_CONFIGS.is_dir():
        return _SOURCE_TREE_CONFIGS
    return pathlib.Path(str(importlib.resources.files("hubexport.configs")))


def read_preset(path: pathlib.Path) -> Preset:
    """Parses one preset file, naming the file in any error."""
    values = user_files.read_json(path, error=ConfigError, what="preset file")
    missing = {"name", "description", "encoder", "parameter_table", "tokenizer"} - set(values)
    if missing:
        raise ConfigError(f"preset file {path} lacks {sorted(missing)}")
    if values["name"] != path.stem:
        raise ConfigError(f"preset file {path} names itself {values['name']!r}; the file name must match")
    return Preset(
        name=values["name"],
        description=values["description"],
        encoder=EncoderConfig.from_dict(values["encoder"], source=str(path)),
        parameter_table=values["parameter_table"],
        tokenizer=values["tokenizer"],
        path=path,
        weights=values.get("weights"),
    )


@functools.cache
def all_presets() -> dict[str, Preset]:
    """Every built-in preset by name, in name order."""
    return {p.stem: read_preset(p) for p in sorted(config_dir().glob("*.json"))}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a ConfigError listing the known names."""
    presets = all_presets()
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(presets)}")
    return presets[name]


def table_parameter_count(preset: Preset, model_weights: dict[str, int]) -> int:
    """Parameters as the seed table counts them, from our model's per-weight sizes.

    `parameter_table.excluded_weights` lists substrings of our weight paths the table leaves out;
    `parameter_table.extra_weights` maps a description to shapes the table counts but we do not
    build (e.g. keras-hub's untrained ELECTRA pooler).
    """
    table = preset.parameter_table
    excluded = table.get("excluded_weights", [])
    count = sum(size for path, size in model_weights.items() if not any(x in path for x in excluded))
    for shapes in table.get("extra_weights", {}).values():
        for shape in shapes:
            count += functools.reduce(lambda a, b: a * b, shape, 1)
    return count
