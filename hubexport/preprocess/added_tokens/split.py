"""Splits text on added tokens inside the graph, with the semantics of Hugging Face `tokenizers`'
AddedVocabulary.

- Matching is leftmost-longest over all token contents (an RE2 alternation, longest content first, is
  leftmost-first, which for literals is leftmost-longest), on the original text.
- A `normalized` token of a tokenizer that lowercases matches case-insensitively (HF matches it on
  the lowercased, normalized text; the slow tokenizers lowercase the text around it). Other
  normalizations (accent stripping, NFKC) are not applied to the match.
- `single_word`: a match with a word character (letter, mark, digit, connector) right before or
  after it is no match; its text stays text.
- `lstrip` / `rstrip`: the token also takes the whitespace on its left / right, up to the previous
  / next token; its offsets include that whitespace unless `trim_offsets` (byte-level BPE's
  post-processor trims every token's offsets).
- `split_special_tokens`: special tokens are text, other added tokens are still recognised (the fast
  tokenizers' meaning; the slow ones then treat every added token as text).

The pieces between tokens keep their original text, so a tokenizer tokenizes them as it tokenizes
any line, and their offsets are byte offsets into the input string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import tensorflow as tf

from hubexport.preprocess.added_tokens.vocabulary import AddedToken
from hubexport.preprocess.unicode_tables.python_whitespace import python_whitespace, regex_class

MARK = b"\xff"
WORD_START = r"^[\pL\pM\p{Nd}\p{Nl}\p{Pc}\x{200c}\x{200d}]"
WORD_END = r"[\pL\pM\p{Nd}\p{Nl}\p{Pc}\x{200c}\x{200d}]$"


class Pieces(NamedTuple):
    """A batch split on added tokens: each [batch, (pieces)]; `ids` int32 is the added token's id,
    -1 for text; `starts` and `ends` are int64 byte offsets into the input."""

    text: tf.RaggedTensor
    starts: tf.RaggedTensor
    ends: tf.RaggedTensor
    ids: tf.RaggedTensor


def _literal(token: AddedToken, lowercase: bool) -> str:
    """RE2 pattern of one token's content (case-insensitive when it is matched normalized)."""
    literal = "".join(f"\\x{{{ord(ch):x}}}" if not ch.isalnum() else ch for ch in token.content)
    return f"(?i:{literal})" if token.normalized and lowercase else literal


def _alternation(tokens: Sequence[AddedToken], lowercase: bool) -> str:
    ordered = sorted(tokens, key=lambda token: -len(token.content.encode("utf-8")))
    return "(?:" + "|".join(_literal(token, lowercase) for token in ordered) + ")"


class AddedTokenSplitter(tf.Module):
    """Finds `tokens` in UTF-8 strings [batch] and splits the strings around them."""

    def __init__(
        self, tokens: Sequence[AddedToken], lowercase: bool, split_special_tokens: bool, trim_offsets: bool
    ) -> None:
        super().__init__()
        self._trim_offsets = trim_offsets
        tokens = [token for token in tokens if token.content]
        recognised = [token for token in tokens if not (split_special_tokens and token.special)]
        self._pattern = _alternation(tokens, lowercase)
        self._occurs = f"(?s).*{_alternation(recognised, lowercase)}.*"
        self._exact = _table({token.content: token.id for token in tokens})
        self._folded = _table(
            {token.content.lower(): token.id for token in tokens if token.normalized and lowercase},
        )
        ids = sorted({token.id for token in tokens})
        self._ids = tf.constant(ids, tf.int32)
        by_id = {token.id: token for token in tokens}

        def flags(predicate) -> tf.Tensor:
            return tf.constant([predicate(by_id[i]) for i in ids], tf.bool)

        self._recognised = flags(lambda token: not (split_special_tokens and token.special))
        self._single_word = flags(lambda token: token.single_word)
        self._lstrip = flags(lambda token: token.lstrip)
        self._rstrip = flags(lambda token: token.rstrip)
        space = regex_class(python_whitespace())
        self._leading_space, self._trailing_space = f"^{space}+", f"{space}+$"

    def occurs(self, strings: tf.Tensor) -> tf.Tensor:
        """bool scalar: whether a token to recognise occurs in any of the strings."""
        return tf.reduce_any(tf.strings.regex_full_match(strings, self._occurs))

    def split(self, strings: tf.Tensor) -> Pieces:
        """The strings split into text pieces and recognised tokens, in order (a text piece may be
        empty), whitespace taken by lstrip / rstrip tokens removed from the text. Core TensorFlow
        ops only: every match is framed by MARK, a byte valid UTF-8 never holds, and split there,
        so pieces alternate text, match, text, ..."""
        strings = tf.convert_to_tensor(strings, tf.string)
        text = tf.strings.split(tf.strings.regex_replace(strings, self._pattern, MARK + b"\\0" + MARK), sep=MARK)
        flat = text.flat_values
        row = text.value_rowids()
        row_starts = tf.gather(text.row_splits, row)
        lengths = tf.cast(tf.strings.length(flat), tf.int64)
        before = tf.cumsum(lengths, exclusive=True)
        starts = before - tf.gather(tf.concat([before, [0]], 0), row_starts)
        ends = starts + lengths
        is_match = tf.equal((tf.range(tf.size(row, out_type=tf.int64)) - row_starts) % 2, 1)
        ids = tf.where(is_match, self._lookup(flat), -1)
        flag_index = tf.searchsorted(self._ids, tf.maximum(ids, 0))
        is_token = (ids >= 0) & tf.gather(self._recognised, flag_index)
        # single_word: a word character right before or after the match makes it text.
        line = tf.gather(strings, row)
        line_length = tf.cast(tf.strings.length(line), tf.int64)
        single_word = is_token & tf.gather(self._single_word, flag_index)
        head = tf.strings.substr(line, tf.zeros_like(starts), tf.where(single_word, starts, 0))
        tail = tf.strings.substr(line, ends, tf.where(single_word, line_length - ends, 0))
        word_before = tf.strings.regex_full_match(head, f"(?s).*{WORD_END}")
        word_after = tf.strings.regex_full_match(tail, f"(?s){WORD_START}.*")
        is_token &= ~(single_word & (word_before | word_after))
        same_row_before = tf.concat([[False], tf.equal(row[1:], row[:-1])], 0)
        # Consecutive text pieces become one.
        previous_is_token = tf.concat([[True], is_token[:-1]], 0)
        starts_segment = ~same_row_before | is_token | previous_is_token
        segment = tf.cumsum(tf.cast(starts_segment, tf.int64)) - 1
        count = tf.reduce_sum(tf.cast(starts_segment, tf.int64))
        merged = tf.strings.unsorted_segment_join(flat, segment, count)
        seg_starts = tf.math.unsorted_segment_min(starts, segment, count)
        seg_ends = tf.math.unsorted_segment_max(ends, segment, count)
        seg_ids = tf.where(tf.boolean_mask(is_token, starts_segment), tf.boolean_mask(ids, starts_segment), -1)
        seg_rows = tf.boolean_mask(row, starts_segment)
        merged, seg_starts, seg_ends = self._strip(merged, seg_starts, seg_ends, seg_ids, seg_rows)
        nrows = text.nrows()

        def rows(values: tf.Tensor) -> tf.RaggedTensor:
            return tf.RaggedTensor.from_value_rowids(values, seg_rows, nrows=nrows, validate=False)

        return Pieces(rows(merged), rows(seg_starts), rows(seg_ends), rows(seg_ids))

    def _lookup(self, pieces: tf.Tensor) -> tf.Tensor:
        """The added token id of each piece, -1 for text."""
        exact = self._exact.lookup(pieces)
        return tf.where(exact >= 0, exact, self._folded.lookup(tf.strings.lower(pieces, encoding="utf-8")))

    def _strip(self, text, starts, ends, ids, rows):
        """lstrip / rstrip: text whitespace next to such a token moves into the token's span."""
        is_token = ids >= 0
        flag_index = tf.searchsorted(self._ids, tf.maximum(ids, 0))
        lstrip = is_token & tf.gather(self._lstrip, flag_index)
        rstrip = is_token & tf.gather(self._rstrip, flag_index)
        same_row_before = tf.concat([[False], tf.equal(rows[1:], rows[:-1])], 0)
        same_row_after = tf.concat([tf.equal(rows[1:], rows[:-1]), [False]], 0)
        after_rstrip = ~is_token & same_row_before & tf.concat([[False], rstrip[:-1]], 0)
        before_lstrip = ~is_token & same_row_after & tf.concat([lstrip[1:], [False]], 0)
        length = tf.cast(tf.strings.length(text), tf.int64)
        leading = length - tf.cast(tf.strings.length(tf.strings.regex_replace(text, self._leading_space, "")), tf.int64)
        trailing = length - tf.cast(
            tf.strings.length(tf.strings.regex_replace(text, self._trailing_space, "")), tf.int64
        )
        leading = tf.where(after_rstrip, leading, 0)
        trailing = tf.where(before_lstrip, tf.minimum(trailing, length - leading), 0)
        text = tf.strings.substr(text, tf.cast(leading, tf.int32), tf.cast(length - leading - trailing, tf.int32))
        token_start_shift = tf.where(lstrip, tf.concat([[0], trailing[:-1]], 0), 0)
        token_end_shift = tf.where(rstrip, tf.concat([leading[1:], [0]], 0), 0)
        if self._trim_offsets:
            token_start_shift = token_end_shift = tf.zeros_like(starts)
        starts = tf.where(is_token, starts - token_start_shift, starts + leading)
        ends = tf.where(is_token, ends + token_end_shift, ends - trailing)
        return text, starts, ends


def _table(mapping: dict[str, int]) -> tf.lookup.StaticHashTable:
    keys = list(mapping) or [""]
    values = list(mapping.values()) or [-1]
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.string), tf.constant(values, tf.int32)), -1
    )
