"""Reads a `.safetensors` file with numpy alone (no torch), including bfloat16 tensors.

The format is an 8-byte little-endian header length, a JSON header mapping each tensor name to its
dtype, shape and byte range, then the data. The header is validated up front so that a truncated or
corrupt file fails with a CheckpointError naming the file and, where one is at fault, the tensor.
"""

from __future__ import annotations

import json
import math
import pathlib
import struct

import numpy as np

from hubexport.checkpoints.tensors import TensorSource
from hubexport.errors import CheckpointError

_NUMPY_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": np.uint16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_MAX_HEADER_BYTES = 100 * 1024 * 1024


def _int_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    """bfloat16 is the upper half of a float32: shift the bits back into place."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


class SafetensorsFile(TensorSource):
    """The tensors of one safetensors file, each read from disk when asked for."""

    def __init__(self, path: str | pathlib.Path):
        self.path = pathlib.Path(path)
        self.description = str(self.path)
        self._entries, self._data_start = self._read_header()

    def _fail(self, message: str) -> CheckpointError:
        return CheckpointError(f"corrupt safetensors file {self.path}: {message}")

    def _read_header(self) -> tuple[dict[str, dict], int]:
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as handle:
                prefix = handle.read(8)
                if len(prefix) < 8:
                    raise self._fail(f"{size} bytes is too short for a header")
                (header_length,) = struct.unpack("<Q", prefix)
                if header_length > min(size - 8, _MAX_HEADER_BYTES):
                    raise self._fail(f"header length {header_length} exceeds the file size {size}")
                header = json.loads(handle.read(header_length))
        except OSError as error:
            raise CheckpointError(f"cannot read {self.path}: {error.strerror}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise self._fail(f"header is not valid JSON ({error})") from None
        if not isinstance(header, dict):
            raise self._fail("header is not a JSON object")
        header.pop("__metadata__", None)
        data_start = 8 + header_length
        for name, entry in header.items():
            self._validate(name, entry, size - data_start)
        return header, data_start

    def _validate(self, name: str, entry: object, data_size: int) -> None:
        if not (
            isinstance(entry, dict)
            and {"dtype", "shape", "data_offsets"} <= set(entry)
            and isinstance(entry["dtype"], str)
            and _int_list(entry["shape"])
            and _int_list(entry["data_offsets"])
            and len(entry["data_offsets"]) == 2
        ):
            raise self._fail(f"tensor {name!r} has a malformed header entry")
        if entry["dtype"] not in _NUMPY_DTYPES:
            raise self._fail(f"tensor {name!r} has unsupported dtype {entry['dtype']!r}")
        begin, end = entry["data_offsets"]
        expected = math.prod(entry["shape"]) * np.dtype(_NUMPY_DTYPES[entry["dtype"]]).itemsize
        if end - begin != expected:
            raise self._fail(
                f"tensor {name!r} has {end - begin} bytes, but {entry['dtype']} "
                f"{tuple(entry['shape'])} needs {expected}"
            )
        if not 0 <= begin <= end <= data_size:
            raise self._fail(
                f"tensor {name!r} lies past the end of the file (bytes {begin}..{end} "
                f"of a {data_size}-byte data section): the file is truncated"
            )

    def names(self) -> frozenset[str]:
        return frozenset(self._entries)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._entries[name]["shape"])

    def read(self, name: str) -> np.ndarray:
        """Tensor `name` as float32, read straight into its array (float32 data is not copied again)."""
        entry = self._entries[name]
        begin, _ = entry["data_offsets"]
        values = np.empty(entry["shape"], dtype=_NUMPY_DTYPES[entry["dtype"]])
        with open(self.path, "rb") as handle:
            handle.seek(self._data_start + begin)
            got = handle.readinto(values.reshape(-1).view(np.uint8))
        if got != values.nbytes:
            raise self._fail(f"tensor {name!r} ends past the end of the file: the file is truncated")
        if entry["dtype"] == "BF16":
            values = _bfloat16_to_float32(values)
        return values.astype(np.float32, copy=False)
