"""Compact text formats for the code point tables in `bert_data.py`.

All numbers are hexadecimal, entries are separated by spaces:
- ranges: `a` or `a-b` (inclusive);
- values: `a:v` or `a-b:v`, a value for each code point of the range;
- mappings: `a:x.y.z` maps `a` to the sequence x y z; `a-b/s:+d` (or `:-d`) maps every `s`-th
  code point `c` of `a..b` to the single code point `c + d`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

MIN_RUN = 3
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def hangul_decomposition(c: int) -> list[int]:
    """Unicode's algorithmic NFD of a precomposed Hangul syllable into its two or three jamo."""
    index = c - HANGUL_FIRST
    jamo = [0x1100 + index // 588, 0x1161 + index % 588 // 28]
    return jamo + [0x11A7 + index % 28] if index % 28 else jamo


def _runs(items: list[tuple[int, object]], step: int = 1) -> list[tuple[int, int, object]]:
    """Groups sorted (code point, value) pairs into (first, last, value) runs of equal values."""
    runs: list[tuple[int, int, object]] = []
    for c, value in items:
        if runs and runs[-1][1] + step == c and runs[-1][2] == value:
            runs[-1] = (runs[-1][0], c, value)
        else:
            runs.append((c, c, value))
    return runs


def _span(first: int, last: int) -> str:
    return f"{first:x}" if first == last else f"{first:x}-{last:x}"


def encode_ranges(code_points: Iterable[int]) -> str:
    return " ".join(_span(a, b) for a, b, _ in _runs([(c, None) for c in sorted(code_points)]))


def encode_values(values: dict[int, int]) -> str:
    return " ".join(f"{_span(a, b)}:{v:x}" for a, b, v in _runs(sorted(values.items())))


def encode_mapping(mapping: dict[int, list[int]]) -> str:
    """Single code point targets with a constant offset become runs (step 1 or 2)."""
    entries: list[str] = []
    consumed: set[int] = set()
    for c, target in sorted(mapping.items()):
        if c in consumed:
            continue
        best = [c]
        if len(target) == 1:
            for step in (1, 2):
                run = [c]
                offset = target[0] - c
                while (nxt := run[-1] + step) in mapping and nxt not in consumed:
                    if mapping[nxt] != [nxt + offset]:
                        break
                    run.append(nxt)
                if len(run) > len(best):
                    best = run
        if len(best) >= MIN_RUN:
            entries.append(f"{best[0]:x}-{best[-1]:x}/{best[1] - best[0]:x}:{target[0] - c:+x}")
            consumed.update(best)
        else:
            entries.append(f"{c:x}:" + ".".join(f"{t:x}" for t in target))
    return " ".join(entries)


def _bounds(span: str) -> tuple[int, int]:
    first, _, last = span.partition("-")
    return int(first, 16), int(last or first, 16)


def decode_ranges(text: str) -> list[tuple[int, int]]:
    """[(first, last)] inclusive ranges."""
    return [_bounds(span) for span in text.split()]


def decode_values(text: str) -> list[tuple[int, int, int]]:
    """[(first, last, value)]."""
    out = []
    for entry in text.split():
        span, _, value = entry.partition(":")
        out.append((*_bounds(span), int(value, 16)))
    return out


def decode_mapping(text: str) -> dict[int, list[int]]:
    mapping: dict[int, list[int]] = {}
    for entry in text.split():
        key, _, target = entry.partition(":")
        if "/" in key:
            span, _, step = key.partition("/")
            first, last = _bounds(span)
            delta = int(target, 16)
            for c in range(first, last + 1, int(step, 16)):
                mapping[c] = [c + delta]
        else:
            mapping[int(key, 16)] = [int(t, 16) for t in target.split(".")]
    return mapping


def wrap(text: str, width: int = 92) -> list[str]:
    """Splits a long table into source lines (each keeps its trailing space but the last)."""
    lines = textwrap.wrap(text, width=width, break_on_hyphens=False, break_long_words=False)
    return [line + " " for line in lines[:-1]] + lines[-1:] if lines else [""]
