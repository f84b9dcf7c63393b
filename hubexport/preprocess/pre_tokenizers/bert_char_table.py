"""Per code point lookup tables that let the graph apply BertNormalizer + BertPreTokenizer.

HF's normalizer works character by character (clean, pad CJK, NFD and drop Mn, lowercase), so
each input code point becomes 0..3 output code points, each tagged with how the pre-tokenizer
treats it. The common facts are packed into one int32 per code point behind a two-level table
(256-code-point blocks deduplicated); a side table holds code points with several outputs.

The one effect that crosses characters is NFD's canonical reordering of combining marks. It
needs the marks that stripping drops, so a second side table keeps the full NFD pieces (dropped
ones flagged) of every code point that loses some; the graph only uses it when a kept output is
itself a mark with a non-zero combining class, which real text almost never has.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from hubexport.preprocess.unicode_tables import bert_codec as codec
from hubexport.preprocess.unicode_tables import bert_data as data

NUM_CODE_POINTS = 0x110000
BLOCK_BITS = 8
WORD, ISOLATED, SPACE = 0, 1, 2
SPACE_CODE_POINT = 0x20

# Main table, one int32 per code point: pre-tokenizer class of the first output, number of
# outputs, whether an output is a mark with a non-zero combining class (NFD may move it), and
# the first output minus the code point. Side tables hold outputs as class | code point << 2;
# the full NFD table as class | dropped << 2 | code point << 3.
KIND_BITS, COUNT_SHIFT, COUNT_MASK, MARK_SHIFT, DELTA_SHIFT = 2, 2, 3, 4, 5
KIND_MASK = (1 << KIND_BITS) - 1
SIDE_CODE_SHIFT, FULL_DROPPED_SHIFT, FULL_CODE_SHIFT = 2, 2, 3


@dataclasses.dataclass(frozen=True)
class Piece:
    """One NFD piece of an input code point after lowercasing, with its pre-tokenizer class."""

    code_point: int
    kind: int
    ccc: int
    dropped: bool


@dataclasses.dataclass(frozen=True)
class CharTable:
    """`packed[blocks[c >> 8] + c]` describes code point `c` (`blocks` holds, per block of 256
    code points, where its deduplicated copy starts minus where the block starts).

    `multi_code_points` (sorted) have several outputs; row i of `multi_elements` holds outputs
    1..width-1. With `strip_accents`, `full_*` list every NFD piece (dropped ones flagged) of
    the code points that lose some, and `mark_*` the non-zero combining classes.
    """

    blocks: np.ndarray
    packed: np.ndarray
    multi_code_points: np.ndarray
    multi_elements: np.ndarray
    full_code_points: np.ndarray
    full_counts: np.ndarray
    full_elements: np.ndarray
    mark_code_points: np.ndarray
    mark_classes: np.ndarray
    strip_accents: bool

    @property
    def width(self) -> int:
        return 1 + self.multi_elements.shape[1]


def _range_mask(text: str) -> np.ndarray:
    mask = np.zeros(NUM_CODE_POINTS, bool)
    for first, last in codec.decode_ranges(text):
        mask[first : last + 1] = True
    return mask


@functools.cache
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


def _side_table(rows: dict[int, list[Piece]], encode) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted code points, their number of pieces and the pieces encoded, zero-padded."""
    width = max((len(p) for p in rows.values()), default=0)
    elements = np.zeros((len(rows), width), np.int32)
    for row, c in enumerate(sorted(rows)):
        elements[row, : len(rows[c])] = [encode(p) for p in rows[c]]
    counts = np.array([len(rows[c]) for c in sorted(rows)], np.int32)
    return np.array(sorted(rows), np.int32), counts, elements


@functools.cache
def build(lowercase: bool, strip_accents: bool, tokenize_chinese_chars: bool) -> CharTable:
    """The tables for one BertNormalizer configuration (clean_text is always on), built once
    per process (treat the arrays as read-only)."""
    u = _unicode()
    code_points = np.arange(NUM_CODE_POINTS, dtype=np.int64)
    ccc = u["ccc"] if strip_accents else np.zeros(NUM_CODE_POINTS, np.int64)
    kind, count, delta = u["kind"].copy(), np.ones(NUM_CODE_POINTS, np.int64), np.zeros_like(ccc)
    mark = ccc > 0

    space = u["clean_space"]
    kind[space], mark[space], delta[space] = SPACE, False, SPACE_CODE_POINT - code_points[space]
    count[u["removed"]], mark[u["removed"]] = 0, False

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
        count[c], mark[c] = len(kept), any(p.ccc for p in kept)
        if kept:
            kind[c], delta[c] = kept[0].kind, kept[0].code_point - c
        if len(kept) > 1:
            multi[c] = kept[1:]
        if len(kept) < len(pieces):
            full[c] = pieces
    if count.max() > COUNT_MASK:
        raise ValueError("a code point has more outputs than the packing holds")

    mark = mark.astype(np.int64)
    packed = kind | (count << COUNT_SHIFT) | (mark << MARK_SHIFT) | (delta << DELTA_SHIFT)
    unique_blocks, blocks = np.unique(packed.astype(np.int32).reshape(-1, 1 << BLOCK_BITS), axis=0, return_inverse=True)
    multi_code_points, _, multi_elements = _side_table(multi, lambda p: p.kind | (p.code_point << SIDE_CODE_SHIFT))
    full_code_points, full_counts, full_elements = _side_table(
        full,
        lambda p: p.kind | (p.dropped << FULL_DROPPED_SHIFT) | (p.code_point << FULL_CODE_SHIFT),
    )
    marks = np.flatnonzero(ccc)
    return CharTable(
        blocks=((blocks.reshape(-1) - np.arange(blocks.size)) << BLOCK_BITS).astype(np.int32),
        packed=unique_blocks.reshape(-1),
        multi_code_points=multi_code_points,
        multi_elements=multi_elements,
        full_code_points=full_code_points,
        full_counts=full_counts,
        full_elements=full_elements,
        mark_code_points=marks.astype(np.int32),
        mark_classes=ccc[marks].astype(np.int32),
        strip_accents=strip_accents,
    )
