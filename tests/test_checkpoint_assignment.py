"""The strict weight assignment and the safetensors reader, on small hand-made tensors.

Values are checked against arrays assembled here with numpy (blocks, transposes, zero rows) and
against the `safetensors` library itself; a plan with a gap or an overlap must fail before any
tensor is read or any weight is assigned.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from hubexport.checkpoints.safetensors_file import SafetensorsFile
from hubexport.checkpoints.tensors import InMemoryTensors
from hubexport.checkpoints.weight_assignment import Rule, WeightPlan, ZeroFill, assign_weights
from hubexport.encoders.initializers import Unwritten, normal, unwritten_weights
from hubexport.errors import CheckpointError

SENTINEL = 7.0
SHAPES = {"fused/kernel": (4, 6), "fused/bias": (6,), "table": (5, 3), "plain": (3, 2)}


class CountingTensors(InMemoryTensors):
    """In-memory tensors that count how many were read."""

    reads = 0

    def read(self, name: str) -> np.ndarray:
        self.reads += 1
        return super().read(name)


def sentinel_weights() -> dict[str, keras.Variable]:
    return {
        name: keras.Variable(np.full(shape, SENTINEL, np.float32), name=name.replace("/", "_"))
        for name, shape in SHAPES.items()
    }


@pytest.fixture
def tensors() -> CountingTensors:
    rng = np.random.default_rng(0)
    arrays = {f"{part}.weight": rng.normal(size=(2, 4)).astype(np.float32) for part in ("q", "k", "v")}
    arrays.update({f"{part}.bias": rng.normal(size=(2,)).astype(np.float32) for part in ("q", "k", "v")})
    arrays["positions"] = rng.normal(size=(3, 3)).astype(np.float32)
    arrays["plain"] = rng.normal(size=(2, 3)).astype(np.float32)
    return CountingTensors(arrays, "test checkpoint")


def full_plan() -> WeightPlan:
    """q, k, v side by side ([out, in] storage), positions below two zero rows, a transposed plain weight."""
    rules = []
    for index, part in enumerate(("q", "k", "v")):
        columns = (2 * index, 2 * index + 2)
        rules += [
            Rule(f"{part}.weight", "fused/kernel", transpose=True, columns=columns),
            Rule(f"{part}.bias", "fused/bias", columns=columns),
        ]
    rules += [Rule("positions", "table", rows=(2, 5)), Rule("plain", "plain", transpose=True)]
    return WeightPlan(rules=rules, zero_fills=[ZeroFill("table", rows=(0, 2))])


def test_blocks_transposes_and_zero_rows_land_in_place(tensors):
    weights = sentinel_weights()
    assign_weights(weights, tensors, full_plan())
    arrays = tensors._arrays
    expected = {
        "fused/kernel": np.concatenate([arrays[f"{p}.weight"].T for p in "qkv"], axis=1),
        "fused/bias": np.concatenate([arrays[f"{p}.bias"] for p in "qkv"]),
        "table": np.concatenate([np.zeros((2, 3), np.float32), arrays["positions"]]),
        "plain": arrays["plain"].T,
    }
    for name, value in expected.items():
        np.testing.assert_array_equal(weights[name].numpy(), value, err_msg=name)
    assert tensors.reads == 8  # each tensor read once


def _without_zero_rows(plan: WeightPlan) -> WeightPlan:
    return WeightPlan(rules=plan.rules)  # the table's first two rows stay empty


def _overlapping_rows(plan: WeightPlan) -> WeightPlan:
    return WeightPlan(rules=[*plan.rules, Rule("positions", "table", rows=(1, 4))], zero_fills=plan.zero_fills)


def _zero_rows_over_a_block(plan: WeightPlan) -> WeightPlan:
    return WeightPlan(rules=plan.rules, zero_fills=[*plan.zero_fills, ZeroFill("table", rows=(1, 3))])


def _value_over_query_columns(plan: WeightPlan) -> WeightPlan:
    """Columns 0-1 of the fused kernel filled twice and 4-5 never."""
    rules = [
        Rule("v.weight", "fused/kernel", transpose=True, columns=(0, 2)) if rule.source == "v.weight" else rule
        for rule in plan.rules
    ]
    return WeightPlan(rules=rules, zero_fills=plan.zero_fills)


@pytest.mark.parametrize(
    "edit, target, state",
    [
        (_without_zero_rows, "table", "not filled"),
        (_overlapping_rows, "table", "filled more than once"),
        (_zero_rows_over_a_block, "table", "filled more than once"),
        (_value_over_query_columns, "fused/kernel", "not filled"),
    ],
)
def test_gap_or_overlap_fails_before_anything_is_read_or_assigned(tensors, edit, target, state):
    weights = sentinel_weights()
    with pytest.raises(CheckpointError, match=f"model weight {target} is {state} by the checkpoint"):
        assign_weights(weights, tensors, edit(full_plan()))
    assert tensors.reads == 0
    for name, variable in weights.items():
        assert np.all(variable.numpy() == SENTINEL), name


def test_safetensors_reader_matches_the_safetensors_library(tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    generator = torch.Generator().manual_seed(0)
    tensors = {
        "f32": torch.randn(5, 7, generator=generator),
        "f16": torch.randn(3, 4, generator=generator).half(),
        "bf16": torch.randn(6, 2, generator=generator).bfloat16(),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(2.5),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path))
    reference = load_file(str(path))
    source = SafetensorsFile(path)
    assert source.names() == frozenset(tensors)
    for name, tensor in reference.items():
        value = source.read(name)
        assert value.dtype == np.float32 and source.shape(name) == tuple(tensor.shape)
        np.testing.assert_array_equal(value, tensor.float().numpy(), err_msg=name)


def test_unwritten_weights_only_inside_the_context():
    assert isinstance(normal(0.02), keras.initializers.RandomNormal)
    with pytest.raises(RuntimeError):
        with unwritten_weights():
            assert isinstance(normal(0.02), Unwritten)
            assert tuple(normal(0.02)((3, 4), "float32").shape) == (3, 4)
            raise RuntimeError("leaves the context")
    assert isinstance(normal(0.02), keras.initializers.RandomNormal)
