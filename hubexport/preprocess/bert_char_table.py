"""Per code point lookup tables that let the graph apply BertNormalizer + BertPreTokenizer.

HF's normalizer works character by character (clean, pad CJK, NFD and drop Mn, lowercase), so
each input code point becomes 0..3 output code points, each output tagged with how the
pre-tokenizer treats it. The one effect that crosses characters, NFD's canonical reordering of
combining marks, is described by combining classes and NFD starter counts so the graph can
redo it. Everything is packed into int64 values, one per code point, behind a two-level table
(256-code-point blocks deduplicated), plus a small side table for multi-output code points.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from hubexport.preprocess import bert_unicode_codec as codec
from hubexport.preprocess import bert_unicode_data as data

NUM_CODE_POINTS = 0x110000
BLOCK_BITS = 8
WORD, ISOLATED, SPACE = 0, 1, 2
SPACE_CODE_POINT = 0x20

# Bit layout of a packed element. `count` and `starters` are only set on an input code point's
# first element; side-table elements hold their absolute code point in the `code` field, the
# main table holds the offset from the input code point.
CLASS_SHIFT, COUNT_SHIFT, CCC_SHIFT, INC_SHIFT, STARTERS_SHIFT, CODE_SHIFT = 0, 2, 4, 12, 15, 20
CLASS_MASK, COUNT_MASK, CCC_MASK, INC_MASK, STARTERS_MASK = 3, 3, 255, 7, 7


@dataclasses.dataclass(frozen=True)
class Element:
    """One output code point: its pre-tokenizer class, combining class and the NFD starters
    (kept or dropped) met since the previous output of the same input code point."""

    code_point: int
    kind: int
    ccc: int
    starters_before: int


@dataclasses.dataclass(frozen=True)
class CharTable:
    """`packed[blocks[c >> 8] * 256 + (c & 255)]` describes code point `c`'s first output.

    `multi_code_points` (sorted) have more than one output; row i of `multi_elements` packs
    their outputs 1..width-1. `reorder` is set when NFD is applied (combining marks can move).
    """

    blocks: np.ndarray
    packed: np.ndarray
    multi_code_points: np.ndarray
    multi_elements: np.ndarray
    width: int
    reorder: bool


def _range_mask(text: str) -> np.ndarray:
    mask = np.zeros(NUM_CODE_POINTS, bool)
    for first, last in codec.decode_ranges(text):
        mask[first : last + 1] = True
    return mask


@functools.lru_cache(maxsize=None)
def _unicode() -> dict:
    """The probed data, decoded once per process."""
    ccc = np.zeros(NUM_CODE_POINTS, np.int64)
    for first, last, value in codec.decode_values(data.COMBINING_CLASSES):
        ccc[first : last + 1] = value
    decompositions = codec.decode_mapping(data.DECOMPOSITIONS)
    for c in range(codec.HANGUL_FIRST, codec.HANGUL_LAST + 1):
        decompositions[c] = codec.hangul_decomposition(c)
    kind = np.full(NUM_CODE_POINTS, WORD, np.int64)
    kind[_range_mask(data.PRETOKENIZER_PUNCTUATION)] = ISOLATED
    kind[_range_mask(data.PRETOKENIZER_WHITESPACE)] = SPACE
    removed = _range_mask(data.REMOVED)
    removed[0xD800:0xE000] = True
    return {
        "removed": removed,
        "clean_space": _range_mask(data.CLEAN_WHITESPACE),
        "cjk": _range_mask(data.CJK),
        "marks": _range_mask(data.NONSPACING_MARKS),
        "ccc": ccc,
        "kind": kind,
        "lowercase": codec.decode_mapping(data.LOWERCASE),
        "decompositions": decompositions,
    }


def _elements(c: int, lowercase: bool, strip_accents: bool, cjk: bool) -> tuple[list[Element], int]:
    """What the normalizer makes of a code point that is neither removed nor whitespace, and the
    number of NFD starters it contributes (CJK padding spaces count)."""
    u = _unicode()
    pieces = u["decompositions"].get(c, [c]) if strip_accents else [c]
    elements: list[Element] = []
    pending = 1 if cjk else 0
    for piece in pieces:
        starter = int(u["ccc"][piece] == 0)
        pending += starter
        if strip_accents and u["marks"][piece]:
            continue
        ccc = int(u["ccc"][piece]) if strip_accents else 0
        outputs = u["lowercase"].get(piece, [piece]) if lowercase else [piece]
        if ccc and outputs != [piece]:
            raise ValueError(f"lowercasing moves combining mark U+{piece:04X}")
        for out in outputs:
            kind = ISOLATED if cjk else int(u["kind"][out])
            elements.append(Element(out, kind, ccc, pending))
            pending = 0
    if cjk and len(elements) != 1:
        raise ValueError(f"CJK character U+{c:04X} normalizes to {len(elements)} characters")
    return elements, sum(e.starters_before for e in elements) + pending + (1 if cjk else 0)


def _pack(kind, ccc, inc, code, count=0, starters=0):
    return (
        (kind << CLASS_SHIFT)
        | (count << COUNT_SHIFT)
        | (ccc << CCC_SHIFT)
        | (inc << INC_SHIFT)
        | (starters << STARTERS_SHIFT)
        | (code << CODE_SHIFT)
    )


def build(lowercase: bool, strip_accents: bool, tokenize_chinese_chars: bool) -> CharTable:
    """The tables for one BertNormalizer configuration (clean_text is always on)."""
    u = _unicode()
    code_points = np.arange(NUM_CODE_POINTS, dtype=np.int64)
    ccc = u["ccc"] if strip_accents else np.zeros(NUM_CODE_POINTS, np.int64)
    starter = (ccc == 0).astype(np.int64)
    kind, count, delta = u["kind"].copy(), np.ones(NUM_CODE_POINTS, np.int64), np.zeros_like(ccc)
    inc, starters = starter.copy(), starter.copy()

    space = u["clean_space"]
    kind[space], ccc[space], inc[space], starters[space] = SPACE, 0, 1, 1
    delta[space] = SPACE_CODE_POINT - code_points[space]
    count[u["removed"]], inc[u["removed"]], starters[u["removed"]] = 0, 0, 0

    cjk = u["cjk"] & ~u["removed"] if tokenize_chinese_chars else np.zeros(NUM_CODE_POINTS, bool)
    special = set(np.flatnonzero(cjk).tolist())
    if strip_accents:
        special |= set(u["decompositions"]) | set(np.flatnonzero(u["marks"]).tolist())
    if lowercase:
        special |= set(u["lowercase"])
    special -= set(np.flatnonzero(u["removed"] | space).tolist())

    width = 1
    multi: dict[int, list[Element]] = {}
    for c in sorted(special):
        elements, total = _elements(c, lowercase, strip_accents, bool(cjk[c]))
        count[c], starters[c] = len(elements), total
        if elements:
            first = elements[0]
            kind[c], ccc[c], inc[c] = first.kind, first.ccc, first.starters_before
            delta[c] = first.code_point - c
        if len(elements) > 1:
            multi[c] = elements[1:]
            width = max(width, len(elements))
    if count.max() > COUNT_MASK or starters.max() > STARTERS_MASK:
        raise ValueError("a code point has more outputs or NFD starters than the packing holds")

    packed = _pack(kind, ccc, inc, delta, count, starters).reshape(-1, 1 << BLOCK_BITS)
    unique_blocks, blocks = np.unique(packed, axis=0, return_inverse=True)
    multi_code_points = np.array(sorted(multi), np.int32)
    multi_elements = np.zeros((len(multi), width - 1), np.int64)
    for row, c in enumerate(sorted(multi)):
        for col, e in enumerate(multi[c]):
            multi_elements[row, col] = _pack(e.kind, e.ccc, e.starters_before, e.code_point)
    return CharTable(
        blocks=blocks.reshape(-1).astype(np.int32),
        packed=unique_blocks.reshape(-1),
        multi_code_points=multi_code_points,
        multi_elements=multi_elements,
        width=width,
        reorder=strip_accents,
    )
