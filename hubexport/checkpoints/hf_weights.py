"""The weight files of a Hugging Face model directory as one `TensorSource`.

`model.safetensors` (or its sharded `.index.json`) is read with numpy alone. `pytorch_model.bin`
(or its shards) needs torch and is read with `torch.load(weights_only=True)`, which refuses to run
pickled code. Legacy LayerNorm names (`gamma`/`beta`) are renamed as transformers does.
"""

from __future__ import annotations

import pathlib

import numpy as np

from hubexport import user_files
from hubexport.checkpoints.error_text import first_line
from hubexport.checkpoints.safetensors_file import SafetensorsFile
from hubexport.checkpoints.tensors import InMemoryTensors, MergedTensors, RenamedTensors, TensorSource
from hubexport.errors import CheckpointError

SAFETENSORS = "model.safetensors"
TORCH_BIN = "pytorch_model.bin"
INDEX_SUFFIX = ".index.json"
SHARD_INDEX = "shard index"
WEIGHT_FILES = (SAFETENSORS, SAFETENSORS + INDEX_SUFFIX, TORCH_BIN, TORCH_BIN + INDEX_SUFFIX)


def weights_file(model_dir: pathlib.Path) -> pathlib.Path | None:
    """The first weight file present, safetensors preferred; None if there is none."""
    for name in WEIGHT_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    return None


def open_hf_weights(model_dir: pathlib.Path) -> TensorSource:
    """All tensors of the model in `model_dir`, whichever of the weight files it has."""
    path = weights_file(model_dir)
    if path is None:
        raise CheckpointError(f"{model_dir} has no Hugging Face weights: expected one of {', '.join(WEIGHT_FILES)}")
    if path.name.endswith(INDEX_SUFFIX):
        source = _sharded(path)
    else:
        source = _open_file(path)
    return RenamedTensors(source, _modern_name)


def _open_file(path: pathlib.Path) -> TensorSource:
    return SafetensorsFile(path) if path.suffix == ".safetensors" else _torch_file(path)


def _sharded(index_path: pathlib.Path) -> TensorSource:
    shards = sorted(set(_weight_map(index_path).values()))
    missing = [shard for shard in shards if not (index_path.parent / shard).is_file()]
    if missing:
        raise CheckpointError(f"shard index {index_path} names missing files: {', '.join(missing)}")
    return MergedTensors(
        [_open_file(index_path.parent / shard) for shard in shards],
        str(index_path),
        lambda name: CheckpointError(f"tensor {name!r} appears in two shards of {index_path}"),
    )


def _weight_map(index_path: pathlib.Path) -> dict[str, str]:
    """The index's `weight_map` (tensor name -> shard file name), or CheckpointError naming the index."""

    def check(value: object, kinds: tuple[type, ...], key: str) -> object:
        return user_files.json_value(value, kinds, key=key, path=index_path, error=CheckpointError, what=SHARD_INDEX)

    index = user_files.read_json(index_path, error=CheckpointError, what=SHARD_INDEX)
    if "weight_map" not in index:
        raise user_files.file_error(index_path, "no weight_map", error=CheckpointError, what=SHARD_INDEX)
    weight_map = check(index["weight_map"], (dict,), "weight_map")
    for name, shard in weight_map.items():
        check(shard, (str,), f"weight_map[{name!r}]")
    return weight_map


def _torch_file(path: pathlib.Path) -> TensorSource:
    try:
        import torch
    except ImportError:
        raise CheckpointError(f"reading {path} needs torch; install it or convert the model to safetensors") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a corrupt or unsafe file
        raise CheckpointError(f"cannot read {path} with torch.load(weights_only=True): {first_line(error)}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return InMemoryTensors({name: _to_numpy(tensor) for name, tensor in state.items()}, str(path))


def _to_numpy(tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    return (tensor.float() if tensor.is_floating_point() else tensor).numpy()


def _modern_name(name: str) -> str:
    """`LayerNorm.gamma` / `LayerNorm.beta` (old checkpoints) -> `.weight` / `.bias`."""
    if name.endswith("LayerNorm.gamma"):
        return name[: -len("gamma")] + "weight"
    if name.endswith("LayerNorm.beta"):
        return name[: -len("beta")] + "bias"
    return name
