"""Which format a --checkpoint path is: a Hugging Face model, a keras-hub preset, a TF checkpoint."""

from __future__ import annotations

import pathlib

from hubexport.checkpoints.google_tf_import import checkpoint_prefix
from hubexport.checkpoints.hf_config import read_json
from hubexport.checkpoints.hf_weights import WEIGHT_FILES, weights_file
from hubexport.checkpoints.keras_hub_import import WEIGHTS_FILE as KERAS_HUB_WEIGHTS
from hubexport.checkpoints.keras_hub_import import is_keras_hub_config
from hubexport.errors import CheckpointError

HUGGINGFACE = "huggingface"
KERAS_HUB = "keras_hub"
TF_CHECKPOINT = "tf_checkpoint"
FORMATS = (HUGGINGFACE, KERAS_HUB, TF_CHECKPOINT)


def detect_format(path: pathlib.Path) -> str:
    """The format of `path`, from the files it holds; a CheckpointError says what was expected."""
    config = path / "config.json"
    if path.is_dir() and config.is_file():
        values = read_json(config)
        if is_keras_hub_config(values):
            if not (path / KERAS_HUB_WEIGHTS).is_file():
                raise CheckpointError(f"keras-hub preset {path} has no {KERAS_HUB_WEIGHTS}")
            return KERAS_HUB
        if "model_type" in values and weights_file(path) is not None:
            return HUGGINGFACE
    if checkpoint_prefix(path) is not None:
        return TF_CHECKPOINT
    if not path.exists() and not pathlib.Path(f"{path}.index").exists():
        raise CheckpointError(f"--checkpoint {path} does not exist")
    raise CheckpointError(
        f"cannot tell the format of --checkpoint {path}: expected a Hugging Face model directory (config.json "
        f"and one of {', '.join(WEIGHT_FILES)}), a keras-hub preset directory (config.json and "
        f"{KERAS_HUB_WEIGHTS}) or a TF checkpoint (PREFIX.index or a directory holding one)"
    )
