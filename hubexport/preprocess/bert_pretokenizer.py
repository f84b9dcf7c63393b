"""Hugging Face's BertNormalizer + BertPreTokenizer as TensorFlow ops: lines -> normalized words.

Each input code point is looked up in the tables of `bert_char_table` and replaced by its 0..3
normalized code points; NFD's canonical reordering is redone when marks could move; words are
runs of word characters between whitespace, with every punctuation and CJK character alone.
Each normalized character remembers the input bytes it came from, for token offsets.
"""
from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from hubexport.preprocess import bert_char_table as table_lib

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


def utf8_length(code_points: tf.Tensor) -> tf.Tensor:
    """Bytes of each code point in UTF-8, as int64."""
    code_points = tf.cast(code_points, tf.int64)
    return (
        1
        + tf.cast(code_points >= 0x80, tf.int64)
        + tf.cast(code_points >= 0x800, tf.int64)
        + tf.cast(code_points >= 0x10000, tf.int64)
    )


def _field(packed: tf.Tensor, shift: int, mask: int) -> tf.Tensor:
    return tf.bitwise.bitwise_and(tf.bitwise.right_shift(packed, shift), mask)


def _shift_right(values: tf.Tensor, first) -> tf.Tensor:
    """values[i - 1] at position i, `first` at position 0."""
    return tf.concat([tf.fill([1], tf.cast(first, values.dtype)), values[:-1]], axis=0)


def _side_rows(code_points: tf.Tensor, rows: tf.Tensor, cp: tf.Tensor):
    """The side-table row of each code point (any row when absent) and whether it is listed."""
    index = tf.searchsorted(code_points, tf.cast(cp, tf.int32))
    index = tf.minimum(index, tf.shape(code_points)[0] - 1)
    return tf.gather(rows, index), tf.equal(tf.gather(code_points, index), tf.cast(cp, tf.int32))


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
        self._full_elements = tf.constant(table.full_elements)

    def split(self, strings: tf.Tensor) -> Words:
        """UTF-8 lines [batch] -> `Words`. Invalid UTF-8 bytes count as U+FFFD (removed)."""
        strings = tf.convert_to_tensor(strings, tf.string)
        code_points, starts = tf.strings.unicode_decode_with_offsets(strings, "UTF-8")
        cp = tf.cast(code_points.flat_values, tf.int64)
        line = code_points.value_rowids()
        source_start = starts.flat_values
        source_end = source_start + utf8_length(cp)

        block = tf.gather(self._blocks, tf.bitwise.right_shift(cp, table_lib.BLOCK_BITS))
        index = tf.cast(block, tf.int64) * (1 << table_lib.BLOCK_BITS) + tf.bitwise.bitwise_and(
            cp, (1 << table_lib.BLOCK_BITS) - 1
        )
        packed = tf.gather(self._packed, index) + tf.bitwise.left_shift(cp, table_lib.CODE_SHIFT)
        src, element = self._expand(cp, packed)
        if self._reorder:
            src, element = self._canonical_order(cp, src, element, line)
        return self._words(src, element, line, source_start, source_end, tf.shape(strings)[0])

    def _expand(self, cp: tf.Tensor, packed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Normalized elements: the input index each came from and its packed description."""
        count = _field(packed, table_lib.COUNT_SHIFT, table_lib.COUNT_MASK)

        def one_each():
            src = tf.reshape(tf.where(count > 0), [-1])
            return src, tf.gather(packed, src)

        if self._width == 1:
            return one_each()

        def several():
            extra, _ = _side_rows(self._multi_code_points, self._multi_elements, cp)
            matrix = tf.concat([packed[:, None], extra], axis=1)
            where = tf.where(tf.range(self._width, dtype=tf.int64)[None, :] < count[:, None])
            return where[:, 0], tf.gather_nd(matrix, where)

        return tf.cond(tf.reduce_any(count > 1), several, one_each)

    def _canonical_order(self, cp, src, element, line):
        """Redoes NFD's canonical reordering when a kept output is a mark that could move.

        HF reorders the full NFD sequence (marks it then drops included) and re-derives the
        alignments from the reordered sequence: the k-th first-piece of an input character takes
        the k-th input character's place, the other pieces copy the place taken last.
        Lines never mix: a new line starts a new run.
        """

        def reorder():
            full_src, full, position = self._full_sequence(cp, src, element)
            ccc = _field(full, table_lib.CCC_SHIFT, table_lib.CCC_MASK)
            run = tf.cumsum(tf.cast(tf.equal(ccc, 0), tf.int64)) + tf.gather(line, full_src)
            order = tf.argsort(run * CCC_LIMIT + ccc, stable=True)
            is_head = tf.equal(position, 0)
            heads_so_far = tf.cumsum(tf.cast(tf.gather(is_head, order), tf.int64))
            full_src = tf.gather(tf.boolean_mask(full_src, is_head), heads_so_far - 1)
            full = tf.gather(full, order)
            kept = tf.reshape(tf.where(_field(full, table_lib.DROPPED_SHIFT, 1) == 0), [-1])
            return tf.gather(full_src, kept), tf.gather(full, kept)

        has_mark = tf.reduce_any(_field(element, table_lib.CCC_SHIFT, table_lib.CCC_MASK) > 0)
        return tf.cond(has_mark, reorder, lambda: (src, element))

    def _full_sequence(self, cp, src, element):
        """All NFD pieces in input order, with each piece's position in its input's pieces: the
        kept elements, except that inputs listed in the full side table contribute all their
        pieces (dropped marks included)."""
        rows, listed = _side_rows(self._full_code_points, self._full_elements, cp)
        own = tf.reshape(tf.where(~tf.gather(listed, src)), [-1])
        own_src = tf.gather(src, own)
        is_first = tf.not_equal(own_src, _shift_right(own_src, -1))
        first = tf.gather(
            tf.reshape(tf.where(is_first), [-1]), tf.cumsum(tf.cast(is_first, tf.int64)) - 1
        )
        own_position = tf.range(tf.size(own_src, out_type=tf.int64)) - first

        inputs = tf.reshape(tf.where(listed), [-1])
        pieces = tf.gather(rows, inputs)
        where = tf.where(
            tf.range(tf.shape(pieces, out_type=tf.int64)[1])[None, :]
            < _field(pieces[:, :1], table_lib.COUNT_SHIFT, table_lib.COUNT_MASK)
        )
        all_src = tf.concat([own_src, tf.gather(inputs, where[:, 0])], axis=0)
        position = tf.concat([own_position, where[:, 1]], axis=0)
        elements = tf.concat([tf.gather(element, own), tf.gather_nd(pieces, where)], axis=0)
        order = tf.argsort(all_src * (table_lib.COUNT_MASK + 1) + position)
        return tf.gather(all_src, order), tf.gather(elements, order), tf.gather(position, order)

    def _words(self, src, element, line, source_start, source_end, num_lines) -> Words:
        kind = _field(element, table_lib.CLASS_SHIFT, table_lib.CLASS_MASK)
        is_space = tf.equal(kind, table_lib.SPACE)
        spaces_before = tf.cumsum(tf.cast(is_space, tf.int64))
        kept = tf.reshape(tf.where(~is_space), [-1])
        src = tf.gather(src, kept)
        element = tf.gather(element, kept)
        spaces_before = tf.gather(spaces_before, kept)
        element_line = tf.gather(line, src)
        isolated = tf.equal(tf.gather(kind, kept), table_lib.ISOLATED)
        starts_word = (
            isolated
            | _shift_right(isolated, True)
            | tf.not_equal(spaces_before, _shift_right(spaces_before, -1))
            | tf.not_equal(element_line, _shift_right(element_line, -1))
        )
        word_starts = tf.reshape(tf.where(starts_word), [-1])
        code = tf.cast(tf.bitwise.right_shift(element, table_lib.CODE_SHIFT), tf.int32)
        chars = tf.RaggedTensor.from_row_starts(code, word_starts, validate=False)
        words = tf.RaggedTensor.from_value_rowids(
            tf.strings.unicode_encode(chars, "UTF-8"),
            tf.gather(element_line, word_starts),
            nrows=tf.cast(num_lines, tf.int64),
            validate=False,
        )
        offsets = tf.cumsum(utf8_length(code), exclusive=True)
        normalized_starts = offsets - tf.gather(tf.gather(offsets, word_starts), chars.value_rowids())
        return Words(
            words=words,
            normalized_starts=chars.with_flat_values(normalized_starts),
            source_starts=chars.with_flat_values(tf.gather(source_start, src)),
            source_ends=chars.with_flat_values(tf.gather(source_end, src)),
        )
