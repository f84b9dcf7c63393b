"""Python's notion of whitespace, as code points and as RE2 character classes for the graph.

HF's slow SentencePiece tokenizers use `str.split()` and `str.strip()`, whose whitespace set is
wider than ASCII or RE2's `\\s` (it includes \\x1c-\\x1f, \\x85, U+2028 ...).
"""

from __future__ import annotations

import functools
import sys


@functools.cache
def python_whitespace() -> tuple[int, ...]:
    """Code points `str.split()` and `str.strip()` treat as whitespace."""
    return tuple(cp for cp in range(sys.maxunicode + 1) if chr(cp).isspace())


def regex_class(code_points: tuple[int, ...] | list[int], negate: bool = False) -> str:
    """An RE2 character class matching exactly `code_points` (or everything else)."""
    ranges: list[list[int]] = []
    for cp in sorted(set(code_points)):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in ranges)
    return f"[{'^' if negate else ''}{body}]"


def strip_pattern() -> str:
    """RE2 pattern whose removal does what `str.strip()` does."""
    space = regex_class(python_whitespace())
    return f"^{space}+|{space}+$"
