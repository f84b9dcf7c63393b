"""SentencePiece encoding of a batch of texts inside the graph, with the reference's exact ids.

Every strategy gives the ids `SentencePieceProcessor.encode` (sentencepiece 0.2.x) gives:

- unigram models: `sentencepiece_unigram.UnigramEncoder`, in parallel shards of the batch;
- BPE models with SentencePiece's default whitespace handling (see
  `SentencePieceModel.encodes_words_independently`): the texts are split at spaces, each distinct
  word of the batch is encoded once, and the words are joined into a few long texts so that the
  per-call cost of SentencePiece is paid per chunk, not per word. Real text repeats words a lot,
  and SentencePiece's BPE is slow, so this is several times faster;
- other BPE models: `tensorflow_text.SentencepieceTokenizer` line by line, in parallel shards.

Offsets are byte offsets [start, end) into each text, in SentencePiece's own convention: a piece
that begins with "▁" covers the whitespace before its word, and the "▁" that SentencePiece adds in
front of a text is zero-width. (Word by word, the whitespace run is taken to start at the end of
the previous space-separated word that has pieces: whitespace other than U+0020 inside a
space-separated word counts as part of that word.)
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text

from hubexport.preprocess.sentencepiece_model import SentencePieceModel
from hubexport.preprocess.sentencepiece_shards import map_in_shards
from hubexport.preprocess.sentencepiece_unigram import UnigramEncoder

WORDS_PER_CHUNK = 64


class SentencePieceEncoder(tf.Module):
    """Texts [batch] -> SentencePiece ids [batch, (pieces)] (and byte offsets), in graph."""

    def __init__(self, model: SentencePieceModel, name: str | None = None):
        super().__init__(name=name)
        self._unigram = None if model.is_bpe else UnigramEncoder(model)
        self._bpe = (
            tf_text.SentencepieceTokenizer(model.serialized, out_type=tf.int32)
            if model.is_bpe
            else None
        )
        self._by_words = model.encodes_words_independently

    def encode(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """int32 ids [batch, (pieces)] of UTF-8 `texts` [batch]."""
        if self._unigram is not None:
            return map_in_shards(lambda shard: (self._unigram.encode(shard),), texts)[0]
        if self._by_words:
            return self._encode_by_words(texts)[0]
        return map_in_shards(lambda shard: (self._bpe.tokenize(shard),), texts)[0]

    def encode_with_offsets(
        self, texts: tf.Tensor
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Like `encode`, plus int64 start and end byte offsets of each piece in its text."""
        if self._unigram is not None:
            return map_in_shards(self._unigram.encode_with_offsets, texts)
        if self._by_words:
            return self._encode_by_words(texts)
        return map_in_shards(self._bpe.tokenize_with_offsets, texts)

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """SentencePiece's own decoding of int32 ids [batch, (pieces)] -> strings [batch]."""
        sentencepiece = self._bpe if self._unigram is None else self._unigram.normalizer
        return sentencepiece.detokenize(ids)

    def _encode_by_words(self, texts: tf.Tensor):
        words = tf.strings.split(texts, sep=" ")
        unique, word_to_unique = tf.unique(words.flat_values, out_idx=tf.int64)
        # Empty words (from runs of spaces) have no pieces; they are left out of the chunks and
        # point to one extra empty row.
        nonempty = tf.strings.length(unique) > 0
        distinct = tf.boolean_mask(unique, nonempty)
        row = tf.where(
            nonempty,
            tf.cumsum(tf.cast(nonempty, tf.int64), exclusive=True),
            tf.size(distinct, out_type=tf.int64),
        )
        word_to_unique = tf.gather(row, word_to_unique)
        unique_ids, unique_starts, unique_ends = (
            tf.concat([encoded, tf.RaggedTensor.from_row_lengths(encoded.flat_values[:0], [0])], 0)
            for encoded in self._encode_distinct_words(distinct)
        )

        lengths = tf.cast(tf.strings.length(words.flat_values, unit="BYTE"), tf.int64)
        word_starts = _exclusive_cumsum_in_rows(lengths + 1, words)
        ids = tf.gather(unique_ids, word_to_unique)
        run_starts = _whitespace_run_starts(
            word_starts, word_starts + lengths, ids.row_lengths() > 0, words
        )
        local_starts = tf.gather(unique_starts, word_to_unique)
        local_ends = tf.gather(unique_ends, word_to_unique)
        piece_word = ids.value_rowids()
        is_first = tf.range(tf.size(piece_word, out_type=tf.int64)) == tf.gather(
            ids.row_starts(), piece_word
        )
        piece_word_start = tf.gather(word_starts, piece_word)
        starts = tf.where(
            is_first,
            tf.gather(run_starts, piece_word),
            piece_word_start + local_starts.flat_values,
        )
        ends = piece_word_start + tf.maximum(local_ends.flat_values, 0)

        def per_text(values):
            return words.with_flat_values(ids.with_flat_values(values)).merge_dims(1, 2)

        return per_text(ids.flat_values), per_text(starts), per_text(ends)

    def _encode_distinct_words(self, unique: tf.Tensor):
        """Ids and word-relative offsets [words, (pieces)] of distinct non-empty words, encoded in
        chunks.

        The words are laid out as one text joined by single spaces and cut into chunks of
        `WORDS_PER_CHUNK` words; a piece belongs to the word whose bytes or preceding space hold
        its last byte (a piece that starts in the whitespace before its word gets a negative
        start; a word that normalizes to nothing gets no piece).
        """
        count = tf.size(unique, out_type=tf.int64)
        lengths = tf.cast(tf.strings.length(unique, unit="BYTE"), tf.int64)
        word_starts = tf.cumsum(lengths + 1, exclusive=True)
        chunk_splits = tf.concat([tf.range(0, count, WORDS_PER_CHUNK), [count]], axis=0)
        chunks = tf.strings.reduce_join(
            tf.RaggedTensor.from_row_splits(unique, chunk_splits), axis=1, separator=" "
        )
        ids, starts, ends = map_in_shards(self._bpe.tokenize_with_offsets, chunks)
        chunk_base = tf.gather(tf.gather(word_starts, chunk_splits[:-1]), ids.value_rowids())
        starts = starts.flat_values + chunk_base
        ends = ends.flat_values + chunk_base
        word = tf.searchsorted(word_starts[1:] - 1, ends - 1, side="right", out_type=tf.int64)
        word_start = tf.gather(word_starts, word)

        def per_word(values):
            return tf.RaggedTensor.from_value_rowids(values, word, nrows=count)

        return per_word(ids.flat_values), per_word(starts - word_start), per_word(ends - word_start)


def _exclusive_cumsum_in_rows(values: tf.Tensor, rows: tf.RaggedTensor) -> tf.Tensor:
    """Exclusive cumulative sum of flat `values`, restarting at each row of `rows`."""
    total = tf.cumsum(values, exclusive=True)
    row_base = tf.gather(tf.concat([total, [0]], axis=0), rows.row_starts())
    return total - tf.gather(row_base, rows.value_rowids())


def _whitespace_run_starts(
    word_starts: tf.Tensor, word_ends: tf.Tensor, has_pieces: tf.Tensor, words: tf.RaggedTensor
) -> tf.Tensor:
    """Where the whitespace before each word starts: the end of the previous word of its text
    that has pieces (others normalize to nothing), or the word itself when there is none."""
    productive = tf.where(has_pieces)[:, 0]
    position = tf.range(tf.size(word_starts, out_type=tf.int64))
    previous = tf.searchsorted(productive, position, side="left", out_type=tf.int64) - 1
    previous_word = tf.gather(tf.concat([productive, [0]], axis=0), tf.maximum(previous, 0))
    rowids = words.value_rowids()
    has_previous = (previous >= 0) & (tf.gather(rowids, previous_word) == rowids)
    return tf.where(has_previous, tf.gather(word_ends, previous_word), word_starts)
