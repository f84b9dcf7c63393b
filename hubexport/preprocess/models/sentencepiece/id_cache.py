"""A bounded cache, kept in the graph, of the ids of texts (word parts, words) already encoded.

Hugging Face's BPE keeps such a cache of words; SentencePiece's BPE is slow enough that the
in-graph tokenizer needs one too. Cached results are the ones SentencePiece gave, so the cache
changes speed, never ids. It is one `MutableHashTable` from a text to its first `MAX_PIECES` ids
(padded with -1; longer results are not kept), saved with the SavedModel (empty at export); a
single table keeps concurrent calls consistent (each lookup and insert is atomic). It stops
growing at about `capacity` texts (calls running at the same time may each add one batch's new
texts past it). Callers see ids as text (`id_text`), which TensorFlow's tables
cannot hold as values.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from hubexport.preprocess.models.sentencepiece.id_text import ids_to_text, to_code_points

CAPACITY = 100_000
MAX_PIECES = 16


class IdCache(tf.Module):
    """Distinct texts [n] -> their ids as text [n], encoding only the texts not cached."""

    def __init__(self, capacity: int = CAPACITY, name: str | None = None):
        super().__init__(name=name)
        self._capacity = capacity
        self._table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int32, default_value=[-1] * MAX_PIECES)

    def encode(self, texts: tf.Tensor, encode: Callable[[tf.Tensor], tf.RaggedTensor]) -> tf.Tensor:
        """The ids (as text) of distinct `texts`, from the cache or from `encode` (which gives
        int32 ids [n, (k)]); new results are remembered while the cache has room."""
        cached = tf.reshape(self._table.lookup(texts), [-1])
        misses = tf.where(cached[::MAX_PIECES] < 0)
        missing = tf.gather_nd(texts, misses)
        fresh = encode(missing)
        self._remember(missing, fresh)
        # The -1 padding is not a code point: "ignore" drops it.
        known = tf.raw_ops.UnicodeEncode(
            input_values=to_code_points(cached),
            input_splits=tf.range(0, tf.size(cached, out_type=tf.int64) + 1, MAX_PIECES),
            output_encoding="UTF-8",
            errors="ignore",
        )
        return tf.tensor_scatter_nd_update(known, misses, ids_to_text(fresh))

    def _remember(self, texts: tf.Tensor, ids: tf.RaggedTensor) -> None:
        """Inserts as many of `texts` as the capacity allows; results longer than `MAX_PIECES`
        are stored as all -1, which reads as not cached."""
        values = ids.to_tensor(-1, shape=[None, MAX_PIECES])
        values = tf.where((ids.row_lengths() > MAX_PIECES)[:, None], -1, values)
        room = tf.maximum(self._capacity - self._table.size(), 0)
        count = tf.minimum(tf.size(texts, out_type=tf.int64), room)
        self._table.insert(texts[:count], values[:count])
