"""How closely a reloaded export must reproduce the in-memory model, per compute dtype.

A float32 graph reproduces the model up to float rounding, so the largest elementwise difference
is bounded tightly. In bfloat16 the eager model and the optimized graph round at different points
(fused kernels), and through roberta-base's 12 layers single output elements move by ~0.08 while
the mean difference stays near 1% of the mean magnitude; a wrong or missing weight moves it by
~100%. So bfloat16 exports are held to the mean difference relative to the mean magnitude, and so
are int8 exports: the optimized graph computes the float parts in another order than the in-memory
model, and a difference of one float rounding can move a value across an int8 rounding boundary,
one quantization step (measured on all-MiniLM-L6-v2: ~2% of the mean magnitude on average after 6
layers). An int8 export's deviation from float32 is measured and bounded separately
(`int8_quantization`).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ProbeTolerance:
    """`max_abs`: bound on the largest difference (times `scale`); `mean_relative`: on the mean one."""

    max_abs: float | None = None
    mean_relative: float | None = None

    def mismatch(self, got: np.ndarray, expected: np.ndarray, scale: float = 1.0) -> str | None:
        """Why `got` is too far from `expected` (a phrase for an error message), or None."""
        difference = np.abs(np.asarray(got, np.float64) - np.asarray(expected, np.float64))
        if difference.size == 0:
            return None
        largest = float(np.max(difference))
        if self.max_abs is not None and not largest <= self.max_abs * scale:
            return f"differs by up to {largest:.3g} (> {self.max_abs * scale:.3g})"
        if self.mean_relative is not None:
            relative = float(np.mean(difference) / max(float(np.mean(np.abs(expected))), 1e-12))
            if not relative <= self.mean_relative:
                return f"differs by {relative:.1%} of its mean magnitude on average (> {self.mean_relative:.0%})"
        return None


PROBE_TOLERANCES = {
    "float32": ProbeTolerance(max_abs=1e-5),
    "mixed_bfloat16": ProbeTolerance(mean_relative=0.05),
    "int8": ProbeTolerance(mean_relative=0.05),
}


def probe_tolerance(dtype: str) -> ProbeTolerance:
    """The tolerance for an export computed in `dtype` (a Keras dtype policy name)."""
    return PROBE_TOLERANCES.get(dtype, PROBE_TOLERANCES["float32"])
