"""Finds the SavedModel `--model_dir` names and reads its serving signatures without loading it.

`--model_dir` is an end-to-end export: a TF Serving base directory DIR (its highest version DIR/N
is used) or a version directory itself. The signatures (input names, output dtypes and shapes)
are read from saved_model.pb, so the launcher checks the flags against the model it will run
without loading its weights. Paths are anything TensorFlow's file system reads (local, gs://, ...).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import posixpath

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from hubexport.errors import ConfigError
from hubexport.serving.layout import model_name

SAVED_MODEL_FILE = "saved_model.pb"
EMBEDDING_OUTPUT = "embedding"


@dataclasses.dataclass(frozen=True)
class OutputTensor:
    """One signature output per example: its dtype name and its shape without the batch axis."""

    dtype: str
    shape: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Signature:
    """A serving signature: its string inputs, in name order, and its outputs by name."""

    inputs: tuple[str, ...]
    outputs: dict[str, OutputTensor]


@dataclasses.dataclass(frozen=True)
class ExportedModel:
    """The version directory to load, TF Serving's name for the model, the version (None when the
    directory's name is not a number) and the text-in signatures."""

    path: str
    name: str
    version: int | None
    signatures: dict[str, Signature]

    def signature(self, name: str) -> Signature:
        if name not in self.signatures:
            raise ConfigError(
                f"--signature {name!r} is not a text-in signature of {self.path}; it has "
                f"{', '.join(sorted(self.signatures)) or 'none'}"
            )
        return self.signatures[name]

    def embedding_dimension(self, signature: str) -> int | None:
        """The length of the signature's `embedding` output (None when it has none)."""
        output = self.signatures[signature].outputs.get(EMBEDDING_OUTPUT)
        return output.shape[-1] if output and output.shape else None


def find_exported_model(model_dir: str) -> ExportedModel:
    """The end-to-end export at `model_dir` (a base directory or one version); raises ConfigError."""
    model_dir = model_dir.rstrip("/") or "/"
    if "://" not in model_dir:
        model_dir = os.path.abspath(model_dir)
    if not tf.io.gfile.isdir(model_dir):
        raise ConfigError(f"--model_dir {model_dir} is not a directory")
    if tf.io.gfile.exists(posixpath.join(model_dir, SAVED_MODEL_FILE)):
        path = model_dir
    else:
        versions = [
            int(entry.rstrip("/"))
            for entry in tf.io.gfile.listdir(model_dir)
            if entry.rstrip("/").isdigit()
            and tf.io.gfile.exists(posixpath.join(model_dir, entry.rstrip("/"), SAVED_MODEL_FILE))
        ]
        if not versions:
            raise ConfigError(
                f"--model_dir {model_dir} holds no SavedModel: pass an end-to-end export's base "
                "directory (DIR with versions DIR/1, DIR/2, ...) or one of its versions"
            )
        path = posixpath.join(model_dir, str(max(versions)))
    parent, base = posixpath.split(path)
    version = int(base) if base.isdigit() else None
    signatures = read_text_signatures(path)
    if not signatures:
        raise ConfigError(f"--model_dir {path} has no signature taking text: export it with --export_type=end_to_end")
    return ExportedModel(
        path, model_name(pathlib.PurePosixPath(parent if version is not None else path)), version, signatures
    )


def read_text_signatures(path: str) -> dict[str, Signature]:
    """The signatures of the SavedModel at `path` whose inputs are all string vectors [batch]."""
    with tf.io.gfile.GFile(posixpath.join(path, SAVED_MODEL_FILE), "rb") as file:
        saved_model = saved_model_pb2.SavedModel.FromString(file.read())
    signatures = {}
    for name, signature_def in saved_model.meta_graphs[0].signature_def.items():
        inputs = signature_def.inputs
        if not inputs or any(
            info.dtype != tf.string.as_datatype_enum or len(info.tensor_shape.dim) != 1 for info in inputs.values()
        ):
            continue
        outputs = {
            key: OutputTensor(tf.dtypes.as_dtype(info.dtype).name, tuple(dim.size for dim in info.tensor_shape.dim[1:]))
            for key, info in signature_def.outputs.items()
        }
        signatures[name] = Signature(tuple(sorted(inputs)), outputs)
    return signatures
