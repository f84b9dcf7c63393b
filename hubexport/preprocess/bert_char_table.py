"""Per code point lookup tables that let the graph apply BertNormalizer + BertPreTokenizer.

HF's normalizer works character by character (clean, pad CJK, NFD and drop Mn, lowercase), so
each input code point becomes 0..3 output code points, each tagged with how the pre-tokenizer
treats it. Everything is packed into int64 values, one per code point, behind a two-level table
(256-code-point blocks deduplicated), plus a side table for code points with several outputs.

The one effect that crosses characters is NFD's canonical reordering of combining marks. It
needs the marks that stripping drops, so a second side table keeps the full NFD pieces (dropped
ones flagged) of every code point that loses some; the graph only uses it when a kept output is
itself a mark with a non-zero combining class, which real text almost never has.
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

# Bit layout of a packed element. `count` is only set where a table describes a whole input code
# point (main table: kept outputs; full side table's first column: all NFD pieces). The main
# table's code field holds the offset from the input code point, side tables the code point.
CLASS_SHIFT, COUNT_SHIFT, CCC_SHIFT, DROPPED_SHIFT, CODE_SHIFT = 0, 2, 5, 13, 16
CLASS_MASK, COUNT_MASK, CCC_MASK = 3, 7, 255


@dataclasses.dataclass(frozen=True)
class Piece:
    """One NFD piece of an input code point after lowercasing, with its pre-tokenizer class."""

    code_point: int
    kind: int
    ccc: int
    dropped: bool


@dataclasses.dataclass(frozen=True)
class CharTable:
    """`packed[blocks[c >> 8] * 256 + (c & 255)]` describes code point `c`'s first output.

    `multi_code_points` (sorted) have several outputs; row i of `multi_elements` packs outputs
    1..width-1. `full_code_points` / `full_elements` list all NFD pieces of the code points
    that lose some to accent stripping (only when `strip_accents`).
    """

    blocks: np.ndarray
    packed: np.ndarray
    multi_code_points: np.ndarray
    multi_elements: np.ndarray
    full_code_points: np.ndarray
    full_elements: np.ndarray
    strip_accents: bool

    @property
    def width(self) -> int:
        return 1 + self.multi_elements.shape[1]


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


def _pieces(c: int, lowercase: bool, strip_accents: bool, cjk: bool) -> list[Piece]:
    """What the normalizer makes of a code point that is neither removed nor whitespace.

    With `strip_accents` every NFD piece is listed, dropped marks included, and lowercasing must
    keep it one code point (true of Unicode: only U+0130 lowercases to two, and NFD splits it).
    """
    u = _unicode()
    pieces: list[Piece] = []
    for piece in u["decompositions"].get(c, [c]) if strip_accents else [c]:
        outputs = u["lowercase"].get(piece, [piece]) if lowercase else [piece]
        if strip_accents and len(outputs) > 1:
            raise ValueError(f"U+{piece:04X} lowercases to several code points after NFD")
        ccc = int(u["ccc"][piece]) if strip_accents else 0
        dropped = strip_accents and bool(u["marks"][piece])
        for out in outputs:
            pieces.append(Piece(out, ISOLATED if cjk else int(u["kind"][out]), ccc, dropped))
    if cjk and len(pieces) != 1:
        raise ValueError(f"CJK character U+{c:04X} normalizes to {len(pieces)} characters")
    return pieces


def pack(kind, ccc, code, count=0, dropped=False):
    """Packs element fields (numpy arrays or ints) into int64."""
    return (
        (np.int64(kind) << CLASS_SHIFT)
        | (np.int64(count) << COUNT_SHIFT)
        | (np.int64(ccc) << CCC_SHIFT)
        | (np.int64(dropped) << DROPPED_SHIFT)
        | (np.int64(code) << CODE_SHIFT)
    )


def _side_table(rows: dict[int, list[Piece]], with_count: bool) -> tuple[np.ndarray, np.ndarray]:
    width = max((len(p) for p in rows.values()), default=0)
    elements = np.zeros((len(rows), width), np.int64)
    for row, c in enumerate(sorted(rows)):
        for col, p in enumerate(rows[c]):
            count = len(rows[c]) if with_count and col == 0 else 0
            elements[row, col] = pack(p.kind, p.ccc, p.code_point, count, p.dropped)
    return np.array(sorted(rows), np.int32), elements


def build(lowercase: bool, strip_accents: bool, tokenize_chinese_chars: bool) -> CharTable:
    """The tables for one BertNormalizer configuration (clean_text is always on)."""
    u = _unicode()
    code_points = np.arange(NUM_CODE_POINTS, dtype=np.int64)
    ccc = u["ccc"].copy() if strip_accents else np.zeros(NUM_CODE_POINTS, np.int64)
    kind, count, delta = u["kind"].copy(), np.ones(NUM_CODE_POINTS, np.int64), np.zeros_like(ccc)

    space = u["clean_space"]
    kind[space], ccc[space], delta[space] = SPACE, 0, SPACE_CODE_POINT - code_points[space]
    count[u["removed"]] = 0

    cjk = u["cjk"] & ~u["removed"] if tokenize_chinese_chars else np.zeros(NUM_CODE_POINTS, bool)
    special = set(np.flatnonzero(cjk).tolist())
    if strip_accents:
        special |= set(u["decompositions"]) | set(np.flatnonzero(u["marks"]).tolist())
    if lowercase:
        special |= set(u["lowercase"])
    special -= set(np.flatnonzero(u["removed"] | space).tolist())

    multi: dict[int, list[Piece]] = {}
    full: dict[int, list[Piece]] = {}
    for c in sorted(special):
        pieces = _pieces(c, lowercase, strip_accents, bool(cjk[c]))
        kept = [p for p in pieces if not p.dropped]
        count[c] = len(kept)
        if kept:
            kind[c], ccc[c], delta[c] = kept[0].kind, kept[0].ccc, kept[0].code_point - c
        if len(kept) > 1:
            multi[c] = kept[1:]
        if len(kept) < len(pieces):
            full[c] = pieces
    if count.max() > COUNT_MASK or max(map(len, full.values()), default=0) > COUNT_MASK:
        raise ValueError("a code point has more outputs than the packing holds")

    packed = pack(kind, ccc, delta, count).reshape(-1, 1 << BLOCK_BITS)
    unique_blocks, blocks = np.unique(packed, axis=0, return_inverse=True)
    multi_code_points, multi_elements = _side_table(multi, with_count=False)
    full_code_points, full_elements = _side_table(full, with_count=True)
    return CharTable(
        blocks=blocks.reshape(-1).astype(np.int32),
        packed=unique_blocks.reshape(-1),
        multi_code_points=multi_code_points,
        multi_elements=multi_elements,
        full_code_points=full_code_points,
        full_elements=full_elements,
        strip_accents=strip_accents,
    )
