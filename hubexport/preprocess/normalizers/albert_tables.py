"""Code point tables that let the graph reproduce HF's ALBERT text preprocessing exactly.

The slow `AlbertTokenizer` (with `do_lower_case`) first lowercases the text one character at a
time (`PreTrainedTokenizer.tokenize`), then `preprocess_text` collapses whitespace with
`str.split()`, maps ``` `` ``` and `''` to `"`, applies NFKD and drops combining characters
(unless `keep_accents`) and lowercases the whole string again. Apart from the whitespace runs, the
quote pairs and the final-sigma rule of `str.lower`, every step maps one character to a fixed
string (the canonical reordering of NFKD only moves combining marks, which are dropped). So the
graph needs a table of those strings plus three contextual rules. The tables are built here from
Python's own `unicodedata` and `str` methods: the same Unicode version as the reference, which
ICU-based TensorFlow ops do not guarantee.
"""

from __future__ import annotations

import functools
import sys
import unicodedata

from hubexport.preprocess.unicode_tables.python_whitespace import python_whitespace

CAPITAL_SIGMA = "\u03a3"
BACKTICK = ord("`")
APOSTROPHE = ord("'")


def _all_characters() -> list[str]:
    """Every assigned code point except surrogates (they cannot be UTF-8 encoded)."""
    return [
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp)) != "Cn"
    ]


def _lower_keeping_capital_sigma(text: str) -> str:
    """Per-character `str.lower`, leaving U+03A3 for the contextual final-sigma rule."""
    return "".join(c if c == CAPITAL_SIGMA else c.lower() for c in text)


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@functools.cache
def character_map(lowercase: bool, keep_accents: bool) -> dict[int, str]:
    """Code point -> the text ALBERT preprocessing turns it into, for those it changes.

    Whitespace, backtick and apostrophe are left out: their output depends on their neighbours.
    When lowercasing, a U+03A3 in an output (only the mathematical capital sigmas make one) is
    still to be lowercased by the final-sigma rule.
    """
    mapping = {}
    skip = set(python_whitespace()) | {BACKTICK, APOSTROPHE}
    for char in _all_characters():
        if ord(char) in skip:
            continue
        text = char.lower() if lowercase else char
        if not keep_accents:
            text = _strip_accents(text)
        if lowercase:
            text = _lower_keeping_capital_sigma(text)
        if text != char:
            mapping[ord(char)] = text
    return mapping


@functools.cache
def sigma_context_classes() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(cased and not case-ignorable, case-ignorable) code points, as `str.lower` sees them.

    CPython lowercases U+03A3 to final sigma when a cased character precedes it and none follows
    it, skipping case-ignorable characters both ways. Python does not expose the two properties,
    so they are read off `str.lower` itself.
    """
    cased, cased_or_ignorable = [], []
    for char in _all_characters():
        if (char + CAPITAL_SIGMA).lower()[-1] == "\u03c2":
            cased.append(ord(char))
        if ("A" + char + CAPITAL_SIGMA).lower()[-1] == "\u03c2":
            cased_or_ignorable.append(ord(char))
    ignorable = sorted(set(cased_or_ignorable) - set(cased))
    return tuple(cased), tuple(ignorable)
