"""BPE SentencePiece encoding word by word, the way that keeps SentencePiece's BPE cheap.

With SentencePiece's default whitespace handling no BPE merge crosses a space, so a text's pieces
are its space-separated words' pieces (`SentencePieceModel.encodes_words_independently`).
`encode` encodes each distinct word of the batch once: part by part if it is printable ASCII
(`ascii_parts`, where the parts are looked up and cached), else whole by
SentencePiece, through a cache of such words (`id_cache`); every word then gathers
its ids from its distinct word.

`encode_with_offsets` encodes distinct whole words, with SentencePiece's offsets: a piece that
begins with "▁" starts where the previous piece ends (it covers the whitespace before its word),
the "▁" in front of a text is zero-width.
"""

from __future__ import annotations

import tensorflow as tf

from hubexport.preprocess.models.sentencepiece.ascii_parts import WORD_PATTERN, AsciiPartEncoder, encodes_ascii_words
from hubexport.preprocess.models.sentencepiece.id_cache import IdCache
from hubexport.preprocess.models.sentencepiece.id_text import text_to_ids
from hubexport.preprocess.models.sentencepiece.model_file import SentencePieceModel, in_graph_sentencepiece
from hubexport.preprocess.models.sentencepiece.shards import map_in_shards


class BpeWordEncoder(tf.Module):
    """Texts [batch] -> BPE SentencePiece ids [batch, (pieces)] (and offsets), word by word."""

    def __init__(self, model: SentencePieceModel, name: str | None = None):
        super().__init__(name=name)
        self.sentencepiece = in_graph_sentencepiece(model.serialized)
        self._ascii_parts = AsciiPartEncoder(model) if encodes_ascii_words(model) else None
        self._known_words = IdCache()

    def encode(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """int32 ids [batch, (pieces)]."""
        positions, words, _ = tf.raw_ops.StringSplit(input=texts, delimiter=" ", skip_empty=True)
        unique, word_to_unique = tf.unique(words)
        unique_ids, rows = self._encode_distinct_words(unique)
        word_splits, ids = tf.raw_ops.RaggedGather(
            params_nested_splits=[unique_ids.row_splits],
            params_dense_values=unique_ids.flat_values,
            indices=tf.gather(rows, word_to_unique),
            OUTPUT_RAGGED_RANK=1,
        )
        words_per_text = tf.math.bincount(
            tf.cast(positions[:, 0], tf.int32),
            minlength=tf.size(texts),
            maxlength=tf.size(texts),
            dtype=tf.int64,
        )
        text_splits = tf.gather(word_splits[0], tf.concat([[0], tf.cumsum(words_per_text)], 0))
        return tf.RaggedTensor.from_row_splits(ids, text_splits, validate=False)

    def _encode_distinct_words(self, words: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
        """Distinct words [n] -> ids [n, (pieces)] of the same words in another order, and the
        row of each word in them."""
        if self._ascii_parts is None:
            coded = self._known_words.encode(words, self._encode_whole)
            return text_to_ids(coded), tf.range(tf.size(words))
        is_ascii = tf.strings.regex_full_match(words, WORD_PATTERN)
        ascii_rank = tf.cumsum(tf.cast(is_ascii, tf.int32), exclusive=True)
        ascii_count = tf.reduce_sum(tf.cast(is_ascii, tf.int32))
        rows = tf.where(is_ascii, ascii_rank, ascii_count + tf.range(tf.size(words)) - ascii_rank)
        others = self._known_words.encode(tf.boolean_mask(words, ~is_ascii), self._encode_whole)
        ids = tf.concat(
            [self._ascii_parts.encode(tf.boolean_mask(words, is_ascii)), text_to_ids(others)],
            axis=0,
        )
        return ids, rows

    def _encode_whole(self, words: tf.Tensor) -> tf.RaggedTensor:
        return self.sentencepiece.tokenize(words)

    def encode_with_offsets(self, texts: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Ids plus int64 start and end byte offsets of each piece in its text."""
        words = tf.strings.split(texts, sep=" ")
        unique, word_to_unique = tf.unique(words.flat_values, out_idx=tf.int64)
        unique_ids, unique_starts, unique_ends = map_in_shards(self.sentencepiece.tokenize_with_offsets, unique)
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
        starts = starts.with_flat_values(tf.where(word_first & ~text_first, previous_end, starts.flat_values))
        return ids, starts, ends


def _first_in_rows(rows: tf.RaggedTensor) -> tf.Tensor:
    """Per value of `rows`: whether it is the first of its row."""
    position = tf.range(tf.size(rows.flat_values, out_type=tf.int64))
    return position == tf.gather(rows.row_starts(), rows.value_rowids())


def _exclusive_cumsum_in_rows(values: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
    """Exclusive cumulative sum of flat `values`, restarting at each row of `rows`."""
    total = tf.cumsum(values, exclusive=True)
    row_base = tf.gather(tf.concat([total, [0]], axis=0), rows.row_starts())
    return total - tf.gather(row_base, rows.value_rowids())
