"""Hugging Face's BertNormalizer + BertPreTokenizer as TensorFlow ops: lines -> normalized words.

Each input code point is looked up in the tables of `pre_tokenizers.bert_char_table` and replaced by its 0..3
normalized code points; NFD's canonical reordering is redone when marks could move; words are
runs of word characters between whitespace, with every punctuation and CJK character alone.
Each normalized character remembers the input bytes it came from, for token offsets.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from hubexport.preprocess.pre_tokenizers import bert_char_table as table_lib

CCC_LIMIT = 1 << 8  # combining classes are < 256: sort key = run * 256 + class


class Words(NamedTuple):
    """Normalized words of a batch and, per normalized character, where it came from.

    `words` is [lines, (words)]; the three character tensors are [words, (chars)] (flattened
    words) with UTF-8 byte offsets: `normalized_starts` inside the normalized word,
    `source_starts` / `source_ends` in the input line.
    """

    words: tf.RaggedTensor
    normalized_starts: tf.RaggedTensor
    source_starts: tf.RaggedTensor
    source_ends: tf.RaggedTensor


class Elements(NamedTuple):
    """Normalized characters of a batch, flat: input index, code point, pre-tokenizer class."""

    src: tf.Tensor
    code: tf.Tensor
    kind: tf.Tensor


def utf8_length(code_points: tf.Tensor) -> tf.Tensor:
    """Bytes of each code point in UTF-8, as int64."""
    code_points = tf.cast(code_points, tf.int64)
    return (
        1
        + tf.cast(code_points >= 0x80, tf.int64)
        + tf.cast(code_points >= 0x800, tf.int64)
        + tf.cast(code_points >= 0x10000, tf.int64)
    )


def _bits(values: tf.Tensor, shift: int, mask: int | None = None) -> tf.Tensor:
    shifted = tf.bitwise.right_shift(values, shift) if shift else values
    return shifted if mask is None else tf.bitwise.bitwise_and(shifted, mask)


def _differs_from_previous(values: tf.Tensor) -> tf.Tensor:
    """values[i] != values[i - 1], True at position 0."""
    return tf.concat([tf.ones_like(values[:1], tf.bool), tf.not_equal(values[1:], values[:-1])], 0)


def _flat_where(mask: tf.Tensor) -> tf.Tensor:
    return tf.reshape(tf.where(mask), [-1])


def row_ids(row_splits: tf.Tensor) -> tf.Tensor:
    """The row of each value (RaggedTensor.value_rowids is quadratic in the longest row)."""
    positions = tf.range(row_splits[-1], dtype=row_splits.dtype)
    return tf.searchsorted(row_splits[1:], positions, side="right", out_type=row_splits.dtype)


def _side_rows(code_points: tf.Tensor, cp: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Index of each code point in a sorted side table (any row when absent) and whether listed."""
    index = tf.minimum(tf.searchsorted(code_points, cp), tf.shape(code_points)[0] - 1)
    return index, tf.equal(tf.gather(code_points, index), cp)


class BertPreTokenizer(tf.Module):
    """Normalizes and splits lines exactly like HF's BertNormalizer(clean_text=True) followed by
    BertPreTokenizer, for one choice of lowercase / strip_accents / handle_chinese_chars."""

    def __init__(self, lowercase: bool, strip_accents: bool, tokenize_chinese_chars: bool):
        super().__init__()
        table = table_lib.build(lowercase, strip_accents, tokenize_chinese_chars)
        self._blocks = tf.constant(table.blocks)
        self._packed = tf.constant(table.packed)
        self._width = table.width
        self._multi_code_points = tf.constant(table.multi_code_points)
        self._multi_elements = tf.constant(table.multi_elements)
        self._reorder = table.strip_accents and table.full_code_points.size > 0
        self._full_code_points = tf.constant(table.full_code_points)
        self._full_counts = tf.constant(table.full_counts)
        self._full_elements = tf.constant(table.full_elements)
        self._mark_code_points = tf.constant(table.mark_code_points)
        self._mark_classes = tf.constant(table.mark_classes)
        self._pieces_limit = max(table.width, table.full_elements.shape[1]) + 1

    def split(self, strings: tf.Tensor) -> Words:
        """UTF-8 lines [batch] -> `Words`. Invalid UTF-8 bytes count as U+FFFD (removed)."""
        # A space after every line ends its last word and its last run of marks, so that the
        # flat arrays below never need line numbers; it adds no word and moves no offset.
        strings = tf.strings.join([tf.convert_to_tensor(strings, tf.string), " "])
        code_points, starts = tf.strings.unicode_decode_with_offsets(strings, "UTF-8")
        cp = code_points.flat_values
        block = tf.gather(self._blocks, tf.bitwise.right_shift(cp, table_lib.BLOCK_BITS))
        packed = tf.gather(self._packed, block + cp)
        elements = self._expand(cp, packed)
        if self._reorder:
            movable = tf.bitwise.bitwise_and(packed, 1 << table_lib.MARK_SHIFT)
            elements = tf.cond(
                tf.reduce_max(movable) > 0,
                lambda: self._canonical_order(cp, elements),
                lambda: elements,
            )
        source_start = starts.flat_values
        source_end = source_start + utf8_length(cp)
        return self._words(elements, code_points.row_splits, source_start, source_end)

    def _expand(self, cp: tf.Tensor, packed: tf.Tensor) -> Elements:
        """Each input code point's normalized outputs, in order. Batches where every code point
        has exactly one output (the usual case) skip the selection."""
        count = _bits(packed, table_lib.COUNT_SHIFT, table_lib.COUNT_MASK)
        first_code = cp + _bits(packed, table_lib.DELTA_SHIFT)
        first_kind = _bits(packed, 0, table_lib.KIND_MASK)

        def one_each():
            return Elements(tf.range(tf.size(cp, out_type=tf.int64)), first_code, first_kind)

        def one_or_none():
            src = _flat_where(count > 0)
            return Elements(src, tf.gather(first_code, src), tf.gather(first_kind, src))

        def several():
            index, _ = _side_rows(self._multi_code_points, cp)
            extra = tf.gather(self._multi_elements, index)
            present = tf.where(tf.range(self._width)[None, :] < count[:, None])
            code = tf.concat([first_code[:, None], _bits(extra, table_lib.SIDE_CODE_SHIFT)], 1)
            kind = tf.concat([first_kind[:, None], _bits(extra, 0, table_lib.KIND_MASK)], 1)
            return Elements(present[:, 0], tf.gather_nd(code, present), tf.gather_nd(kind, present))

        branches = [one_each, one_or_none]
        branch = tf.where(tf.reduce_min(count) < 1, 1, 0)
        if self._width > 1:
            branches.append(several)
            branch = tf.where(tf.reduce_max(count) > 1, 2, branch)
        return tf.switch_case(branch, branches)

    def _canonical_order(self, cp: tf.Tensor, elements: Elements) -> Elements:
        """Redoes NFD's canonical reordering (a stable sort of marks by combining class between
        starters) on the full NFD sequence, dropped marks included.

        HF re-derives alignments from the reordered sequence: the k-th first piece of an input
        character takes the k-th input character's place, other pieces copy the last place taken.
        """
        src, code, kind, dropped, position = self._full_sequence(cp, elements)
        index, is_mark = _side_rows(self._mark_code_points, code)
        ccc = tf.cast(tf.where(is_mark, tf.gather(self._mark_classes, index), 0), tf.int64)
        run = tf.cumsum(tf.cast(tf.equal(ccc, 0), tf.int64))
        order = tf.argsort(run * CCC_LIMIT + ccc, stable=True)
        is_head = tf.equal(position, 0)
        heads_so_far = tf.cumsum(tf.cast(tf.gather(is_head, order), tf.int64))
        src = tf.gather(tf.boolean_mask(src, is_head), heads_so_far - 1)
        kept = _flat_where(~tf.gather(dropped, order))
        return Elements(
            tf.gather(src, kept),
            tf.gather(tf.gather(code, order), kept),
            tf.gather(tf.gather(kind, order), kept),
        )

    def _full_sequence(self, cp: tf.Tensor, elements: Elements):
        """All NFD pieces in input order (src, code, kind, dropped, position among its input's
        pieces): the kept elements, except for inputs listed in the full side table, which
        contribute all their pieces."""
        index, listed = _side_rows(self._full_code_points, cp)
        own = _flat_where(~tf.gather(listed, elements.src))
        own_src = tf.gather(elements.src, own)
        is_first = _differs_from_previous(own_src)
        first = tf.gather(_flat_where(is_first), tf.cumsum(tf.cast(is_first, tf.int64)) - 1)
        own_position = tf.range(tf.size(own_src, out_type=tf.int64)) - first

        inputs = _flat_where(listed)
        rows = tf.gather(index, inputs)
        present = tf.where(
            tf.range(tf.shape(self._full_elements)[1])[None, :] < tf.gather(self._full_counts, rows)[:, None]
        )
        pieces = tf.gather_nd(tf.gather(self._full_elements, rows), present)

        src = tf.concat([own_src, tf.gather(inputs, present[:, 0])], 0)
        position = tf.concat([own_position, present[:, 1]], 0)
        order = tf.argsort(src * self._pieces_limit + position)
        fields = (
            src,
            tf.concat([tf.gather(elements.code, own), _bits(pieces, table_lib.FULL_CODE_SHIFT)], 0),
            tf.concat([tf.gather(elements.kind, own), _bits(pieces, 0, table_lib.KIND_MASK)], 0),
            tf.concat([tf.zeros_like(own, tf.bool), _bits(pieces, table_lib.FULL_DROPPED_SHIFT, 1) > 0], 0),
            position,
        )
        return tuple(tf.gather(field, order) for field in fields)

    def _words(self, elements: Elements, line_splits, source_start, source_end) -> Words:
        """Drops whitespace and cuts words: a word ends at whitespace (every line ends with a
        space) and around every isolated (punctuation or CJK) character."""
        is_space = tf.equal(elements.kind, table_lib.SPACE)
        isolated = tf.equal(elements.kind, table_lib.ISOLATED)
        # Removed characters are no elements, so they never separate.
        after_break = tf.concat([tf.ones_like(is_space[:1]), is_space[:-1] | isolated[:-1]], 0)
        kept = _flat_where(~is_space)
        code = tf.gather(elements.code, kept)
        word_starts = _flat_where(tf.gather(after_break | isolated, kept))
        chars = tf.RaggedTensor.from_row_starts(code, word_starts, validate=False)
        # Words are in input order: a line's first word is the first to start at or after it.
        word_src = tf.gather(elements.src, tf.gather(kept, word_starts))
        words = tf.RaggedTensor.from_row_splits(
            tf.strings.unicode_encode(chars, "UTF-8"),
            tf.searchsorted(word_src, line_splits, out_type=tf.int64),
            validate=False,
        )
        offsets = tf.cumsum(utf8_length(code), exclusive=True)
        word_offsets = tf.gather(tf.gather(offsets, word_starts), row_ids(chars.row_splits))
        src = tf.gather(elements.src, kept)
        return Words(
            words=words,
            normalized_starts=chars.with_flat_values(offsets - word_offsets),
            source_starts=chars.with_flat_values(tf.gather(source_start, src)),
            source_ends=chars.with_flat_values(tf.gather(source_end, src)),
        )
