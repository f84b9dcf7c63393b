"""`TensorSource`: the named tensors of a checkpoint, read lazily as float32 numpy arrays.

Every format (safetensors, pytorch_model.bin, keras-hub weights, TF checkpoints) is read through
this one interface, so the mapping and the strict assignment never depend on the file format.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping

import numpy as np


class TensorSource(abc.ABC):
    """Names, shapes and values of the tensors in one checkpoint."""

    description: str = "checkpoint"

    @abc.abstractmethod
    def names(self) -> frozenset[str]:
        """Every tensor name in the checkpoint."""

    @abc.abstractmethod
    def shape(self, name: str) -> tuple[int, ...]:
        """The stored shape of tensor `name`."""

    @abc.abstractmethod
    def read(self, name: str) -> np.ndarray:
        """Tensor `name` as a float32 array."""


class InMemoryTensors(TensorSource):
    """Tensors already in memory (a torch state dict, a loaded keras-hub backbone)."""

    def __init__(self, arrays: Mapping[str, np.ndarray], description: str):
        self._arrays = dict(arrays)
        self.description = description

    def names(self) -> frozenset[str]:
        return frozenset(self._arrays)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._arrays[name].shape)

    def read(self, name: str) -> np.ndarray:
        return np.asarray(self._arrays[name], dtype=np.float32)


class RenamedTensors(TensorSource):
    """A view of `source` under new names (`rename(old) -> new`), e.g. legacy LayerNorm names."""

    def __init__(self, source: TensorSource, rename: Callable[[str], str]):
        self._source = source
        self._original = {rename(name): name for name in source.names()}
        self.description = source.description

    def names(self) -> frozenset[str]:
        return frozenset(self._original)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._source.shape(self._original[name])

    def read(self, name: str) -> np.ndarray:
        return self._source.read(self._original[name])


class MergedTensors(TensorSource):
    """Several sources (shards of one checkpoint) seen as one; a name in two shards is an error."""

    def __init__(self, sources: list[TensorSource], description: str, duplicate_error: Callable[[str], Exception]):
        self._owner: dict[str, TensorSource] = {}
        for source in sources:
            for name in source.names():
                if name in self._owner:
                    raise duplicate_error(name)
                self._owner[name] = source
        self.description = description

    def names(self) -> frozenset[str]:
        return frozenset(self._owner)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._owner[name].shape(name)

    def read(self, name: str) -> np.ndarray:
        return self._owner[name].read(name)
