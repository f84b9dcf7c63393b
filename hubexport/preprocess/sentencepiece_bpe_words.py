"""BPE SentencePiece encoding word by word, the way that keeps SentencePiece's BPE cheap.

With SentencePiece's default whitespace handling no BPE merge crosses a space, so a text's pieces
are its space-separated words' pieces (`SentencePieceModel.encodes_words_independently`). More:
a merge can never join two adjacent characters that no piece holds side by side, so a word can be
cut there and its parts encoded on their own (the first with SentencePiece's "▁" prefix, the
others without): BPE merges each part exactly as inside the word. `tokenize` looks distinct words
up in a cache of words seen in earlier calls (`sentencepiece_word_cache`), cuts the others if
they are printable ASCII (their normalization changes nothing) and encodes each distinct part
once. Real text repeats words and word parts a lot, and SentencePiece's BPE is slow.

`tokenize_with_offsets` encodes distinct whole words, with SentencePiece's offsets: a piece that
begins with "▁" starts where the previous piece ends (it covers the whitespace before its word),
the "▁" in front of a text is zero-width.
"""
from __future__ import annotations

import tensorflow as tf
from sentencepiece import SentencePieceNormalizer, sentencepiece_model_pb2

from hubexport.preprocess.sentencepiece_model import SentencePieceModel, in_graph_sentencepiece
from hubexport.preprocess.sentencepiece_shards import map_in_shards
from hubexport.preprocess.sentencepiece_word_cache import WordCache

PRINTABLE_ASCII = range(0x21, 0x7F)
_TYPE = sentencepiece_model_pb2.ModelProto.SentencePiece.Type


class BpeWordEncoder(tf.Module):
    """Texts [batch] -> BPE SentencePiece ids [batch, (pieces)] (and offsets), word by word."""

    def __init__(self, model: SentencePieceModel, name: str | None = None):
        super().__init__(name=name)
        self.sentencepiece = in_graph_sentencepiece(model.serialized)
        self._inner = in_graph_sentencepiece(_without_prefix(model))
        self._cuts = tf.constant(_cut_table(model))
        self._known_words = WordCache()

    def encode(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """int32 ids [batch, (pieces)]."""
        words = tf.strings.split(texts, sep=" ")
        unique, word_to_unique = tf.unique(words.flat_values, out_idx=tf.int64)
        ids = self._known_words.encode(unique, self._encode_distinct_words)
        return words.with_flat_values(tf.gather(ids, word_to_unique)).merge_dims(1, 2)

    def _encode_distinct_words(self, words: tf.Tensor) -> tf.RaggedTensor:
        """Distinct words [n] -> ids [n, (pieces)], through their distinct parts."""
        parts, is_first, word_parts = self._cut(words)
        first_ids = self._encode_distinct(tf.boolean_mask(parts, is_first), self.sentencepiece)
        inner_ids = self._encode_distinct(tf.boolean_mask(parts, ~is_first), self._inner)
        first_rank = tf.cumsum(tf.cast(is_first, tf.int64), exclusive=True)
        inner_rank = tf.cumsum(tf.cast(~is_first, tf.int64), exclusive=True)
        part_ids = tf.gather(
            tf.concat([first_ids, inner_ids], axis=0),
            tf.where(is_first, first_rank, first_ids.nrows() + inner_rank),
        )
        return word_parts.with_flat_values(tf.gather(part_ids, word_parts.flat_values)).merge_dims(1, 2)

    def encode_with_offsets(
        self, texts: tf.Tensor
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Ids plus int64 start and end byte offsets of each piece in its text."""
        words = tf.strings.split(texts, sep=" ")
        unique, word_to_unique = tf.unique(words.flat_values, out_idx=tf.int64)
        unique_ids, unique_starts, unique_ends = map_in_shards(
            self.sentencepiece.tokenize_with_offsets, unique
        )
        lengths = tf.cast(tf.strings.length(words.flat_values, unit="BYTE"), tf.int64)
        word_starts = _exclusive_cumsum_in_rows(lengths + 1, words)
        word_ids = tf.gather(unique_ids, word_to_unique)
        base = tf.gather(word_starts, word_ids.value_rowids())
        starts = base + tf.gather(unique_starts, word_to_unique).flat_values
        ends = base + tf.gather(unique_ends, word_to_unique).flat_values

        def per_text(values):
            return words.with_flat_values(word_ids.with_flat_values(values)).merge_dims(1, 2)

        ids, starts, ends = per_text(word_ids.flat_values), per_text(starts), per_text(ends)
        # The first piece of a word (but not of its text) starts where the previous piece ends.
        word_first = _first_in_rows(word_ids)
        text_first = _first_in_rows(ids)
        previous_end = tf.concat([[0], ends.flat_values[:-1]], axis=0)
        starts = starts.with_flat_values(
            tf.where(word_first & ~text_first, previous_end, starts.flat_values)
        )
        return ids, starts, ends

    def _cut(self, words: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.RaggedTensor]:
        """Distinct words [n] -> their parts [p], which parts begin a word, and the parts of each
        word [n, (parts)] (indices). Only printable ASCII words are cut; others are one part."""
        cuttable = tf.strings.regex_full_match(words, "[\\x21-\\x7e]+")
        ascii_words = tf.boolean_mask(words, cuttable)
        chars = tf.strings.unicode_decode(ascii_words, "UTF-8")
        code = chars.flat_values
        following = tf.concat([code[1:], [0]], axis=0)
        cut_after = tf.gather(self._cuts, code * 128 + following)
        # A part starts at a word's first character or after a cut.
        word_first = _first_in_rows(chars)
        begins = word_first | tf.concat([[False], cut_after[:-1]], axis=0)
        part = tf.cumsum(tf.cast(begins, tf.int64)) - 1
        ascii_parts = tf.strings.unicode_encode(
            tf.RaggedTensor.from_value_rowids(code, part), "UTF-8"
        )
        parts_per_word = tf.math.unsorted_segment_sum(
            tf.cast(begins, tf.int64), chars.value_rowids(), chars.nrows()
        )
        other_words = tf.boolean_mask(words, ~cuttable)
        parts = tf.concat([ascii_parts, other_words], axis=0)
        is_first = tf.concat(
            [tf.boolean_mask(word_first, begins), tf.ones_like(other_words, tf.bool)], axis=0
        )
        ascii_count = tf.size(ascii_parts, out_type=tf.int64)
        other_rows = tf.RaggedTensor.from_row_lengths(
            ascii_count + tf.range(tf.size(other_words, out_type=tf.int64)),
            tf.ones_like(other_words, tf.int64),
        )
        ascii_rows = tf.RaggedTensor.from_row_lengths(tf.range(ascii_count), parts_per_word)
        word_rank = tf.cumsum(tf.cast(cuttable, tf.int64), exclusive=True)
        other_rank = tf.cumsum(tf.cast(~cuttable, tf.int64), exclusive=True)
        word_parts = tf.gather(
            tf.concat([ascii_rows, other_rows], axis=0),
            tf.where(cuttable, word_rank, ascii_rows.nrows() + other_rank),
        )
        return parts, is_first, word_parts

    @staticmethod
    def _encode_distinct(texts: tf.Tensor, sentencepiece) -> tf.RaggedTensor:
        """Ids of `texts` [n, (pieces)], each distinct text encoded once, in parallel shards."""
        unique, index = tf.unique(texts, out_idx=tf.int64)
        ids = map_in_shards(lambda shard: (sentencepiece.tokenize(shard),), unique)[0]
        return tf.gather(ids, index)


def _without_prefix(model: SentencePieceModel) -> bytes:
    """The model without the "▁" SentencePiece puts in front of a text (for inner word parts)."""
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.serialized)
    proto.normalizer_spec.add_dummy_prefix = False
    return proto.SerializeToString()


def _cut_table(model: SentencePieceModel) -> list[bool]:
    """[128 * 128]: whether a word may be cut between printable ASCII characters a and b.

    Only when no piece holds "ab" (no merge can join them), both are not unknown (SentencePiece
    merges runs of unknown pieces), and normalization leaves printable ASCII alone. Models with
    user-defined or unused pieces (matched or re-split outside the merges) are never cut.
    """
    table = [False] * (128 * 128)
    if any(t in (_TYPE.USER_DEFINED, _TYPE.UNUSED) for t in model.piece_types):
        return table
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.serialized)
    rules = SentencePieceNormalizer(normalizer_spec=proto.normalizer_spec.SerializeToString())
    printable = "".join(chr(c) for c in PRINTABLE_ASCII)
    if rules.normalize("x" + printable) != rules.normalize("x") + printable:
        return table
    pieces = [p for p, t in zip(model.pieces, model.piece_types) if t == _TYPE.NORMAL]
    adjacent = {p[i : i + 2] for p in pieces for i in range(len(p) - 1)}
    known = {p for p in pieces if len(p) == 1}
    for a in map(chr, PRINTABLE_ASCII):
        for b in map(chr, PRINTABLE_ASCII):
            table[ord(a) * 128 + ord(b)] = a + b not in adjacent and (a in known or b in known)
    return table


def _first_in_rows(rows: tf.RaggedTensor) -> tf.Tensor:
    """Per value of `rows`: whether it is the first of its row."""
    position = tf.range(tf.size(rows.flat_values, out_type=tf.int64))
    return position == tf.gather(rows.row_starts(), rows.value_rowids())


def _exclusive_cumsum_in_rows(values: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
    """Exclusive cumulative sum of flat `values`, restarting at each row of `rows`."""
    total = tf.cumsum(values, exclusive=True)
    row_base = tf.gather(tf.concat([total, [0]], axis=0), rows.row_starts())
    return total - tf.gather(row_base, rows.value_rowids())
