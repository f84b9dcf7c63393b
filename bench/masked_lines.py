"""Benchmark text with an added token in every line: the tokenizers' slower path."""

from __future__ import annotations


def with_token(lines: list[str], token: str) -> list[str]:
    """Each line with ` token ` put in at its middle space (or at its end when it has none), as a
    fill-mask input would hold it."""
    result = []
    for line in lines:
        middle = line.find(" ", len(line) // 2)
        result.append(f"{line} {token}" if middle < 0 else f"{line[:middle]} {token}{line[middle:]}")
    return result
