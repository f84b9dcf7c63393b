"""`hf://org/name[@revision]` and `kaggle://owner/model/framework/variation[/version]` handles.

They are downloaded (or found in the local cache) with huggingface_hub / kagglehub and resolve to
a local directory; any failure (no network, unknown handle) is one CheckpointError line. Plain
paths are returned as they are.
"""

from __future__ import annotations

import os
import pathlib

from hubexport.checkpoints.error_text import first_line
from hubexport.errors import CheckpointError

HF_SCHEME = "hf://"
KAGGLE_SCHEME = "kaggle://"
# Configs, tokenizer files and the weights hubexport reads (safetensors, or a keras-hub preset's .h5);
# pytorch_model.bin is fetched only for repositories without safetensors.
HF_PATTERNS = ["*.json", "*.safetensors", "*.weights.h5", "*.txt", "*.model"]
HF_TORCH_PATTERNS = ["pytorch_model.bin*"]


def resolve_checkpoint(handle: str | os.PathLike) -> pathlib.Path:
    """A local path for `handle` (a path, or an hf:// or kaggle:// handle, which is downloaded)."""
    handle = os.fspath(handle)
    if handle.startswith(HF_SCHEME):
        return _huggingface(handle, handle[len(HF_SCHEME) :])
    if handle.startswith(KAGGLE_SCHEME):
        return _kaggle(handle, handle[len(KAGGLE_SCHEME) :])
    return pathlib.Path(handle).expanduser()


def _huggingface(handle: str, repo: str) -> pathlib.Path:
    repo_id, _, revision = repo.partition("@")
    if repo_id.count("/") != 1:
        raise CheckpointError(f"{handle}: expected hf://ORGANIZATION/NAME[@REVISION]")
    try:
        from huggingface_hub import snapshot_download

        path = pathlib.Path(snapshot_download(repo_id=repo_id, revision=revision or None, allow_patterns=HF_PATTERNS))
        if not any(path.glob("*.safetensors")) and not any(path.glob("*.weights.h5")):
            path = pathlib.Path(
                snapshot_download(repo_id=repo_id, revision=revision or None, allow_patterns=HF_TORCH_PATTERNS)
            )
        return path
    except ImportError:
        raise CheckpointError(f"{handle}: downloading needs huggingface_hub (pip install huggingface_hub)") from None
    except Exception as error:  # network, authentication and not-found errors all end the same way
        raise CheckpointError(f"cannot download {handle}: {first_line(error)}") from None


def _kaggle(handle: str, model: str) -> pathlib.Path:
    if model.count("/") not in (3, 4):
        raise CheckpointError(f"{handle}: expected kaggle://OWNER/MODEL/FRAMEWORK/VARIATION[/VERSION]")
    try:
        import kagglehub

        return pathlib.Path(kagglehub.model_download(model))
    except ImportError:
        raise CheckpointError(f"{handle}: downloading needs kagglehub (pip install kagglehub)") from None
    except Exception as error:  # network, authentication and not-found errors all end the same way
        raise CheckpointError(f"cannot download {handle}: {first_line(error)}") from None
