"""Offsets as the tests compare them."""

from __future__ import annotations


def byte_offsets(text: str, char_offsets) -> list[tuple[int, int]]:
    """HF's character offsets as UTF-8 byte offsets."""
    starts = [0]
    for ch in text:
        starts.append(starts[-1] + len(ch.encode("utf-8")))
    return [(starts[a], starts[b]) for a, b in char_offsets]
