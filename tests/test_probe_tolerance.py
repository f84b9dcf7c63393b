"""The export probe's tolerance: float32 bounds every element; bfloat16 bounds the mean difference."""

from __future__ import annotations

import numpy as np
import pytest

from hubexport.savedmodel.probe_tolerance import probe_tolerance


@pytest.fixture(scope="module")
def outputs() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(3, 7, 768)).astype(np.float32)


def bfloat16_rounded(values: np.ndarray) -> np.ndarray:
    """`values` rounded to bfloat16 (the upper 16 bits of float32, round half to even)."""
    bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def test_float32_bounds_every_element(outputs):
    tolerance = probe_tolerance("float32")
    assert tolerance.mismatch(outputs + 5e-6, outputs) is None
    nudged = outputs.copy()
    nudged[1, 2, 3] += 1e-4
    assert tolerance.mismatch(nudged, outputs).startswith("differs by up to 0.0001")
    assert tolerance.mismatch(outputs[:0], outputs[:0]) is None


def test_bfloat16_accepts_rounding_noise_and_rejects_another_model(outputs):
    tolerance = probe_tolerance("mixed_bfloat16")
    rng = np.random.default_rng(1)
    noisy = bfloat16_rounded(outputs * (1 + 0.01 * rng.normal(size=outputs.shape)))  # ~1% per element
    assert np.max(np.abs(noisy - outputs)) > 0.05  # single elements move as much as in a 12-layer model
    assert tolerance.mismatch(noisy, outputs) is None
    other_model = rng.normal(size=outputs.shape).astype(np.float32)
    assert "of its mean magnitude" in tolerance.mismatch(other_model, outputs)
    assert tolerance.mismatch(outputs * 1.2, outputs) is not None  # a 20% scale error is caught


def test_max_abs_scales_for_large_outputs(outputs):
    logits = outputs * 20
    assert probe_tolerance("float32").mismatch(logits + 1e-4, logits, scale=20.0) is None
    assert probe_tolerance("float32").mismatch(logits + 1e-4, logits) is not None
