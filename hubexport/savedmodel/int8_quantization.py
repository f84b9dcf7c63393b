"""`--dtype=int8` at export: quantize the encoder's dense layers and measure what it costs in accuracy.

An export asked for int8 (`Int8Quantization`) runs its probe inputs through the float32 model, quantizes
the model in place (`EncoderBackbone.quantize("int8")`), runs them again and compares the two, row by
row of the compared output (the embedding, logits or token vectors): the mean and smallest cosine
similarity and the largest absolute difference (`Int8Deviation`). Both go into `hubexport.json` and the
model card; an export whose smallest cosine is below `Int8Quantization.min_cosine` stops with
`QuantizationError` before anything is written. The default bound, 0.98, is what the int8
all-MiniLM-L6-v2 reaches on a few hundred real lines with room to spare (smallest 0.988, mean 0.997);
float32 against itself is 1.0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from hubexport.encoders.backbone import EncoderBackbone
from hubexport.errors import QuantizationError

DEFAULT_MIN_COSINE = 0.98


@dataclasses.dataclass(frozen=True)
class Int8Quantization:
    """A request for an int8 export: refuse it if a probe row's cosine to float32 is below `min_cosine`."""

    min_cosine: float = DEFAULT_MIN_COSINE


@dataclasses.dataclass(frozen=True)
class Int8Deviation:
    """How far the int8 model's `output` is from float32's on `measured_on`, over its rows."""

    output: str
    measured_on: str
    rows: int
    mean_cosine: float
    min_cosine: float
    max_abs_difference: float
    min_cosine_bound: float

    def describe(self) -> dict[str, object]:
        """The JSON-ready record of `hubexport.json` and the model card."""
        return dataclasses.asdict(self)


def deviation(reference: np.ndarray, quantized: np.ndarray) -> tuple[float, float, float]:
    """(mean cosine, smallest cosine, largest absolute difference) of the rows of two `[rows, dim]` arrays;
    a pair of all-zero rows counts as cosine 1."""
    reference = np.asarray(reference, np.float64)
    quantized = np.asarray(quantized, np.float64)
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(quantized, axis=1)
    dots = np.sum(reference * quantized, axis=1)
    cosines = np.where(norms > 0, dots / np.maximum(norms, 1e-30), np.where(dots == 0, 1.0, 0.0))
    return float(np.mean(cosines)), float(np.min(cosines)), float(np.max(np.abs(reference - quantized)))


def quantize_checked(
    model: EncoderBackbone,
    request: Int8Quantization,
    probe_rows: Callable[[], np.ndarray],
    *,
    output: str,
    measured_on: str,
) -> Int8Deviation:
    """Quantizes `model` to int8 in place and returns the deviation of `probe_rows()` (`[rows, dim]`, computed
    by the model) from its float32 value; raises QuantizationError when beyond `request.min_cosine`."""
    reference = probe_rows()
    model.quantize("int8")
    mean_cosine, min_cosine, max_abs = deviation(reference, probe_rows())
    result = Int8Deviation(output, measured_on, len(reference), mean_cosine, min_cosine, max_abs, request.min_cosine)
    if not min_cosine >= request.min_cosine:
        raise QuantizationError(
            f"--dtype=int8 changes {output} too much on {measured_on}: smallest cosine similarity to float32 "
            f"{min_cosine:.4f} < --int8_min_cosine={request.min_cosine} (mean {mean_cosine:.4f}); export this "
            "model as float32 or mixed_bfloat16, or lower --int8_min_cosine"
        )
    return result
