"""Strict assignment of checkpoint tensors to model weights, described by a `WeightPlan`.

Every model weight must be filled exactly once (every element of it), every checkpoint tensor must
be used or belong to a known group of tensors the model does not need (task heads, optimizer
state), which are listed in ONE warning; anything else is a CheckpointError naming the tensor.
Nothing is assigned until the whole plan has been checked.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping

import numpy as np

from hubexport.checkpoints.tensors import TensorSource
from hubexport.errors import CheckpointError

Range = tuple[int, int]
_SHOWN = 6


class CheckpointWarning(UserWarning):
    """Checkpoint tensors that were recognized but not exported (heads, optimizer state)."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """Checkpoint tensor `source` fills model weight `target`, or its block `rows` x `columns`.

    `transpose` reverses the stored axes (PyTorch `[out, in]` kernels); `source_shape` is the
    stored shape when it is a reshaping of the block (keras-hub's per-head attention kernels).
    """

    source: str
    target: str
    transpose: bool = False
    source_shape: tuple[int, ...] | None = None
    rows: Range | None = None
    columns: Range | None = None


@dataclasses.dataclass(frozen=True)
class Duplicate:
    """Tensor `source`, when present, is a tied parameter saved twice: it must equal tensor `of`."""

    source: str
    of: str


@dataclasses.dataclass(frozen=True)
class ZeroFill:
    """The `rows` of model weight `target` have no counterpart in the checkpoint and are zero."""

    target: str
    rows: Range | None = None


@dataclasses.dataclass(frozen=True)
class KnownUnused:
    """A named group of checkpoint tensors the model does not use (listed in the warning)."""

    label: str
    matches: Callable[[str], bool]


@dataclasses.dataclass
class WeightPlan:
    """Everything needed to fill a model from a checkpoint."""

    rules: list[Rule]
    duplicates: list[Duplicate] = dataclasses.field(default_factory=list)
    zero_fills: list[ZeroFill] = dataclasses.field(default_factory=list)
    known_unused: list[KnownUnused] = dataclasses.field(default_factory=list)


def _listing(names: list[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _region(shape: tuple[int, ...], rows: Range | None, columns: Range | None) -> tuple[slice, ...]:
    index = [slice(None)] * len(shape)
    if rows is not None:
        index[0] = slice(*rows)
    if columns is not None:
        index[-1] = slice(*columns)
    return tuple(index)


def _region_shape(shape: tuple[int, ...], index: tuple[slice, ...]) -> tuple[int, ...]:
    return tuple(len(range(*part.indices(size))) for part, size in zip(index, shape))


def _expected_source_shape(rule: Rule, region_shape: tuple[int, ...]) -> tuple[int, ...]:
    if rule.source_shape is not None:
        return rule.source_shape
    return tuple(reversed(region_shape)) if rule.transpose else region_shape


def assign_weights(weights: Mapping[str, object], source: TensorSource, plan: WeightPlan) -> None:
    """Fills `weights` (model weight path -> Keras variable) from `source` as `plan` says.

    Every check runs first (coverage from the rules' regions alone, without reading tensor data);
    then the weights are assigned one at a time, so at most one weight's values are held in numpy.
    """
    names = source.names()
    missing = [rule for rule in plan.rules if rule.source not in names]
    if missing:
        raise CheckpointError(
            f"{source.description}: missing tensor {_listing([r.source for r in missing])} "
            f"(needed for {missing[0].target})"
        )
    unknown_targets = sorted({rule.target for rule in plan.rules} - set(weights))
    if unknown_targets:
        raise RuntimeError(f"weight plan names weights the model does not have: {unknown_targets}")
    shapes = {target: tuple(weights[target].shape) for target in weights}
    for rule in plan.rules:
        index = _region(shapes[rule.target], rule.rows, rule.columns)
        expected = _expected_source_shape(rule, _region_shape(shapes[rule.target], index))
        got = source.shape(rule.source)
        if got != expected:
            raise CheckpointError(
                f"{source.description}: tensor {rule.source!r} has shape {got}, but the model "
                f"needs {expected} (for {rule.target})"
            )
    _check_leftovers(names, plan, source.description)
    regions = {target: [] for target in shapes}
    for rule in plan.rules:
        regions[rule.target].append(_region(shapes[rule.target], rule.rows, rule.columns))
    for fill in plan.zero_fills:
        regions[fill.target].append(_region(shapes[fill.target], fill.rows, None))
    for target, shape in shapes.items():
        counts = _coverage_counts(shape, regions[target])
        if not np.all(counts == 1):
            state = "not filled" if np.any(counts == 0) else "filled more than once"
            raise CheckpointError(f"{source.description}: model weight {target} is {state} by the checkpoint")
    for duplicate in plan.duplicates:
        if duplicate.source in names and not np.array_equal(source.read(duplicate.source), source.read(duplicate.of)):
            raise CheckpointError(
                f"{source.description}: tensor {duplicate.source!r} should be tied to "
                f"{duplicate.of!r} but holds different values"
            )
    rules = {target: [] for target in shapes}
    for rule in plan.rules:
        rules[rule.target].append(rule)
    for target, variable in weights.items():
        variable.assign(_weight_value(shapes[target], rules[target], source))


def _coverage_counts(shape: tuple[int, ...], regions: list[tuple[slice, ...]]) -> np.ndarray:
    """How often each cell of `shape` is covered by `regions`, on a grid cut at the regions' edges.

    Regions only restrict the first and last axes, so cutting those axes at every region boundary
    gives cells that each region covers entirely or not at all: one counter per cell is exact.
    """
    axes = sorted({0, len(shape) - 1}) if shape else []
    cuts = {
        axis: sorted({0, shape[axis]} | {bound for index in regions for bound in index[axis].indices(shape[axis])[:2]})
        for axis in axes
    }
    counts = np.zeros([len(cuts[axis]) - 1 for axis in axes], np.int64)
    for index in regions:
        cells = []
        for axis in axes:
            start, stop, _ = index[axis].indices(shape[axis])
            cells.append(slice(cuts[axis].index(start), cuts[axis].index(max(start, stop))))
        counts[tuple(cells)] += 1
    return counts


def _weight_value(shape: tuple[int, ...], rules: list[Rule], source: TensorSource) -> np.ndarray:
    """One weight's float32 values: its tensor as stored, or its blocks assembled over zeros."""
    if len(rules) == 1 and rules[0].rows is None and rules[0].columns is None:
        return _block(rules[0], source, shape)
    value = np.zeros(shape, np.float32)
    for rule in rules:
        index = _region(shape, rule.rows, rule.columns)
        value[index] = _block(rule, source, _region_shape(shape, index))
    return value


def _block(rule: Rule, source: TensorSource, shape: tuple[int, ...]) -> np.ndarray:
    array = source.read(rule.source)
    return (array.T if rule.transpose else array).reshape(shape)


def _check_leftovers(names: frozenset[str], plan: WeightPlan, description: str) -> None:
    """Unused tensors: known groups go into one warning, anything else is an error."""
    used = {rule.source for rule in plan.rules} | {d.source for d in plan.duplicates}
    groups: dict[str, list[str]] = {}
    unexpected = []
    for name in sorted(names - used):
        group = next((known.label for known in plan.known_unused if known.matches(name)), None)
        if group is None:
            unexpected.append(name)
        else:
            groups.setdefault(group, []).append(name)
    if unexpected:
        raise CheckpointError(
            f"{description}: tensor {_listing(unexpected)} matches no weight of the model "
            "(is the checkpoint of another architecture?)"
        )
    if groups:
        listed = "; ".join(f"{label}: {_listing(group)}" for label, group in groups.items())
        warnings.warn(
            f"{description}: not exported ({sum(map(len, groups.values()))} tensors): {listed}",
            CheckpointWarning,
            stacklevel=3,
        )
