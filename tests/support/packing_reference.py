"""Plain-Python statement of the packing rules, to check the in-graph packer against.

Written from the rule's description (brute force over levels), not from the TensorFlow code.
"""

from __future__ import annotations


def water_filling(lengths: tuple[int, ...], budget: int) -> list[int]:
    """Kept lengths: highest common level that fits, leftovers one each to longer, then later."""
    if sum(lengths) <= budget:
        return list(lengths)
    level = max(level for level in range(budget + 1) if sum(min(n, level) for n in lengths) <= budget)
    kept = [min(n, level) for n in lengths]
    cut = sorted((i for i, n in enumerate(lengths) if n > level), key=lambda i: (-lengths[i], -i))
    for i in cut[: budget - sum(kept)]:
        kept[i] += 1
    return kept


def waterfall(lengths: tuple[int, ...], budget: int) -> list[int]:
    """Kept lengths: each segment keeps what the segments before it left of the budget."""
    return [min(n, max(budget - sum(lengths[:i]), 0)) for i, n in enumerate(lengths)]


def pack(
    segments: list[list[int]], seq_length: int, start_id: int, end_id: int, padding_id: int, style: str
) -> tuple[list[int], list[int], list[int]]:
    """(word ids, mask, type ids) for one example, framed "bert" or "roberta" style, round robin."""
    specials = len(segments) + 1 if style == "bert" else 2 * len(segments)
    kept = water_filling(tuple(map(len, segments)), max(seq_length - specials, 0))
    ids, types = [start_id], [0]
    for index, (segment, keep) in enumerate(zip(segments, kept)):
        prefix = [end_id] if style == "roberta" and index > 0 else []
        ids += prefix + segment[:keep] + [end_id]
        types += [index if style == "bert" else 0] * (len(prefix) + keep + 1)
    ids, types = ids[:seq_length], types[:seq_length]
    padding = seq_length - len(ids)
    return ids + [padding_id] * padding, [1] * len(ids) + [0] * padding, types + [0] * padding
