"""HF's ALBERT text preprocessing (`AlbertTokenizer.preprocess_text`), inside the graph.

Works on code points: each character is replaced by its fixed output from
`albert_tables.character_map`, except for three contextual rules done with tensor ops:

- whitespace (Python's `str.split()` set): the first character of each run between two words
  becomes one space, all others disappear (`" ".join(text.strip().split())`);
- runs of backticks or apostrophes: pairs from the left become `"` (``` `` ``` and `''` -> `"`);
- final sigma: a U+03A3 left in the output (only from mathematical capital sigmas) becomes
  U+03C2 where `str.lower` would make it final, U+03C3 otherwise.

Texts that are pure ASCII (without the separators U+001C-U+001F, whitespace to Python) skip the
code point work: for them the whole preprocessing is ASCII lowercasing, whitespace stripping and
collapsing and the quote rule, done with string ops.

Invalid UTF-8 is decoded with U+FFFD replacements (the reference only sees Python strings).

The alignment maps each byte of the output back to the input, so that token offsets can be
given in the original string: the bytes made from a character span from its start to the next
character that produces output or starts a whitespace run (dropped combining marks are covered
by the letter before them), and the space made from a whitespace run spans that whole run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from hubexport.preprocess.normalizers import albert_tables as tables
from hubexport.preprocess.unicode_tables.python_whitespace import python_whitespace, regex_class

_IDENTITY = -1
_WHITESPACE = -2
_QUOTE = -3
# The whitespace `tf.strings.strip` removes (absl's ASCII whitespace), and its line breaks.
_STRIPPED = " \t\n\x0b\x0c\r"
_BREAKS = _STRIPPED[1:]


@dataclasses.dataclass(frozen=True)
class Alignment:
    """Per byte of the normalized texts: start and end byte of its source in the input."""

    source_starts: tf.RaggedTensor
    source_ends: tf.RaggedTensor
    input_lengths: tf.Tensor

    def to_input_offsets(
        self, starts: tf.RaggedTensor, ends: tf.RaggedTensor
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Token byte offsets in the normalized texts -> (start, end, start of the last source
        character) in the input texts. Zero-width tokens stay zero-width."""
        rowids = starts.value_rowids()
        row_base = tf.gather(self.source_starts.row_starts(), rowids)
        length = tf.gather(self.source_starts.row_lengths(), rowids)
        start, end = starts.flat_values, ends.flat_values
        input_start = tf.where(
            start < length,
            tf.gather(self.source_starts.flat_values, row_base + tf.minimum(start, length - 1)),
            tf.gather(self.input_lengths, rowids),
        )
        last = row_base + tf.maximum(end - 1, 0)
        nonempty = end > start
        input_end = tf.where(nonempty, tf.gather(self.source_ends.flat_values, last), input_start)
        last_start = tf.where(nonempty, tf.gather(self.source_starts.flat_values, last), input_start)
        return tuple(starts.with_flat_values(v) for v in (input_start, input_end, last_start))


class AlbertNormalizer(tf.Module):
    """UTF-8 texts [batch] -> the texts HF's ALBERT tokenizer hands to SentencePiece."""

    def __init__(self, lowercase: bool, keep_accents: bool, name: str | None = None):
        super().__init__(name=name)
        self._lowercase = lowercase
        # Fast path: ASCII texts without the whitespace that `tf.strings.strip` leaves alone.
        unstripped = [cp for cp in python_whitespace() if cp < 0x80 and chr(cp) not in _STRIPPED]
        self._fast_text = regex_class([cp for cp in range(0x80) if cp not in unstripped]) + "*"
        space, breaks = regex_class(list(map(ord, _STRIPPED))), regex_class(list(map(ord, _BREAKS)))
        # Whitespace runs that are not already one space.
        self._runs = f"{space}*{breaks}{space}*| {{2,}}"
        mapping = tables.character_map(lowercase, keep_accents)
        keys = list(mapping) + list(python_whitespace()) + [tables.BACKTICK, tables.APOSTROPHE]
        kinds = list(range(len(mapping))) + [_WHITESPACE] * len(python_whitespace()) + [_QUOTE] * 2
        self._kinds = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(np.array(keys, np.int64), np.array(kinds, np.int64)),
            default_value=_IDENTITY,
        )
        rows = [[ord(c) for c in text] for text in mapping.values()]
        self._empty_row = len(rows)
        rows += [[], [ord(" ")], [ord('"')]]
        self._replacement_values = tf.constant([cp for row in rows for cp in row], tf.int32)
        self._replacement_lengths = tf.constant([len(row) for row in rows], tf.int64)
        self._final_sigma = None
        if lowercase and any(tables.CAPITAL_SIGMA in text for text in mapping.values()):
            cased, ignorable = tables.sigma_context_classes()
            self._final_sigma = (
                f"({regex_class(cased)}{regex_class(ignorable)}*)"
                f"{tables.CAPITAL_SIGMA}"
                f"({regex_class(ignorable)}*(?:{regex_class(cased + ignorable, True)}|$))"
            )

    def normalize(self, texts: tf.Tensor) -> tf.Tensor:
        """UTF-8 strings [batch] -> normalized UTF-8 strings [batch]."""
        others = tf.where(~tf.strings.regex_full_match(texts, self._fast_text))
        chars = tf.strings.unicode_decode(tf.gather_nd(texts, others), "UTF-8", errors="replace")
        outputs, _, _ = self._character_outputs(chars)
        return tf.tensor_scatter_nd_update(self._normalize_ascii(texts), others, self._encode(chars, outputs))

    def normalize_with_alignment(self, texts: tf.Tensor) -> tuple[tf.Tensor, Alignment]:
        """Like `normalize`, plus the map from normalized bytes back to input bytes."""
        chars, char_starts = tf.strings.unicode_decode_with_offsets(texts, "UTF-8", errors="replace")
        outputs, is_whitespace, opens_run = self._character_outputs(chars)
        output_bytes = tf.reduce_sum(_utf8_length(outputs), axis=1)
        input_lengths = tf.cast(tf.strings.length(texts, unit="BYTE"), tf.int64)
        is_anchor = ((output_bytes > 0) & ~is_whitespace) | opens_run
        char_ends = _next_anchor_starts(chars, char_starts.flat_values, is_anchor, input_lengths)
        byte_char = tf.repeat(tf.range(tf.size(output_bytes, out_type=tf.int64)), output_bytes)
        per_text = tf.RaggedTensor.from_row_lengths(
            byte_char, tf.reduce_sum(chars.with_flat_values(output_bytes), axis=1)
        )
        alignment = Alignment(
            source_starts=per_text.with_flat_values(tf.gather(char_starts.flat_values, byte_char)),
            source_ends=per_text.with_flat_values(tf.gather(char_ends, byte_char)),
            input_lengths=input_lengths,
        )
        return self._encode(chars, outputs), alignment

    def _normalize_ascii(self, texts: tf.Tensor) -> tf.Tensor:
        """The preprocessing of texts that match `_fast_text` (others come out wrong)."""
        if self._lowercase:
            texts = tf.strings.lower(texts)
        texts = tf.strings.regex_replace(tf.strings.strip(texts), self._runs, " ")
        return tf.strings.regex_replace(texts, "``|''", '"')

    def _encode(self, chars: tf.RaggedTensor, outputs: tf.RaggedTensor) -> tf.Tensor:
        code_points = chars.with_flat_values(outputs).merge_dims(1, 2)
        texts = tf.strings.unicode_encode(code_points, "UTF-8")
        if self._final_sigma is not None:
            texts = tf.strings.regex_replace(texts, self._final_sigma, "\\1\u03c2\\2")
            texts = tf.strings.regex_replace(texts, tables.CAPITAL_SIGMA, "\u03c3")
        return texts

    def _character_outputs(self, chars: tf.RaggedTensor) -> tuple[tf.RaggedTensor, tf.Tensor, tf.Tensor]:
        """Output code points [chars, (k)] of each character, which characters are whitespace
        and which open a whitespace run."""
        code_points = chars.flat_values
        count = tf.size(code_points, out_type=tf.int64)
        position = tf.range(count)
        rowids = chars.value_rowids()
        first_in_row = position == tf.gather(chars.row_starts(), rowids)
        kind = self._kinds.lookup(tf.cast(code_points, tf.int64))

        is_whitespace = kind == _WHITESPACE
        after_whitespace = _shift_right(is_whitespace) & ~first_in_row
        words_through = tf.concat([[0], tf.cumsum(tf.cast(~is_whitespace, tf.int64))], axis=0)
        words_before = tf.gather(words_through, position) - tf.gather(
            words_through, tf.gather(chars.row_starts(), rowids)
        )
        words_after = tf.gather(words_through, tf.gather(chars.row_limits(), rowids)) - tf.gather(
            words_through, position + 1
        )
        opens_run = is_whitespace & ~after_whitespace
        kept_space = opens_run & (words_before > 0) & (words_after > 0)

        is_quote = kind == _QUOTE
        repeats = is_quote & ~first_in_row & (code_points == _shift_right(code_points))
        run_begins = is_quote & ~repeats
        run_index = tf.cumsum(tf.cast(run_begins, tf.int64)) - 1
        run_start = tf.gather(tf.concat([tf.where(run_begins)[:, 0], [0]], axis=0), tf.maximum(run_index, 0))
        second_of_pair = is_quote & ((position - run_start) % 2 == 1)
        pair_start = is_quote & ~second_of_pair & tf.concat([repeats[1:], [False]], axis=0)

        empty, space, double_quote = (tf.constant(self._empty_row + k, tf.int64) for k in range(3))
        row = tf.where(kind >= 0, kind, self._empty_row + 3 + position)
        row = tf.where(is_whitespace, tf.where(kept_space, space, empty), row)
        row = tf.where(pair_start, double_quote, tf.where(second_of_pair, empty, row))
        replacements = tf.RaggedTensor.from_row_lengths(
            tf.concat([self._replacement_values, code_points], axis=0),
            tf.concat([self._replacement_lengths, tf.ones_like(position)], axis=0),
        )
        return tf.gather(replacements, row), is_whitespace, opens_run


def _shift_right(values: tf.Tensor) -> tf.Tensor:
    """values[i - 1] at i (zero / False at 0)."""
    return tf.concat([tf.zeros_like(values[:1]), values[:-1]], axis=0)


def _utf8_length(code_points: tf.RaggedTensor) -> tf.RaggedTensor:
    """Bytes each code point takes in UTF-8."""
    return tf.ragged.map_flat_values(
        lambda cp: 1
        + tf.cast(cp >= 0x80, tf.int64)
        + tf.cast(cp >= 0x800, tf.int64)
        + tf.cast(cp >= 0x10000, tf.int64),
        code_points,
    )


def _next_anchor_starts(
    chars: tf.RaggedTensor, starts: tf.Tensor, is_anchor: tf.Tensor, input_lengths: tf.Tensor
) -> tf.Tensor:
    """Per character: input start of the next anchor character of its text, else its length."""
    rowids = chars.value_rowids()
    anchors = tf.where(is_anchor)[:, 0]
    position = tf.range(tf.size(starts, out_type=tf.int64))
    following = tf.searchsorted(anchors, position, side="right", out_type=tf.int64)
    anchor = tf.gather(tf.concat([anchors, [0]], axis=0), following)
    same_text = (following < tf.size(anchors, out_type=tf.int64)) & (tf.gather(rowids, anchor) == rowids)
    return tf.where(same_text, tf.gather(starts, anchor), tf.gather(input_lengths, rowids))
