"""A bounded cache of the pieces of words already encoded, kept in the graph.

Hugging Face's BPE keeps such a cache; SentencePiece's BPE is slow enough that without one the
in-graph tokenizer cannot keep up. Cached results are the ones SentencePiece gave, so the cache
changes speed, never ids. It lives in a `MutableHashTable` (saved with the SavedModel, empty at
export) and stops growing at `capacity` words; words of more than `max_pieces` pieces or of none
are not kept.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

CAPACITY = 50_000
MAX_PIECES = 16


class WordCache(tf.Module):
    """Distinct words [n] -> int32 ids [n, (pieces)], encoding only the words not cached."""

    def __init__(self, capacity: int = CAPACITY, max_pieces: int = MAX_PIECES, name=None):
        super().__init__(name=name)
        self._capacity = capacity
        self._max_pieces = max_pieces
        self._table = tf.lookup.experimental.MutableHashTable(
            tf.string, tf.int32, default_value=[-1] * max_pieces
        )

    def encode(
        self, words: tf.Tensor, encode: Callable[[tf.Tensor], tf.RaggedTensor]
    ) -> tf.RaggedTensor:
        """The ids of distinct `words`, from the cache or from `encode` (then remembered)."""
        cached = tf.reshape(self._table.lookup(words), [-1, self._max_pieces])
        hit = cached[:, 0] >= 0
        misses = tf.boolean_mask(words, ~hit)
        fresh = encode(misses)
        self._remember(misses, fresh)

        hits = tf.RaggedTensor.from_tensor(tf.boolean_mask(cached, hit), padding=-1)
        hit_rank = tf.cumsum(tf.cast(hit, tf.int64), exclusive=True)
        miss_rank = tf.cumsum(tf.cast(~hit, tf.int64), exclusive=True)
        row = tf.where(hit, hit_rank, hits.nrows() + miss_rank)
        return tf.gather(tf.concat([hits.with_row_splits_dtype(fresh.row_splits.dtype), fresh], 0), row)

    def _remember(self, words: tf.Tensor, ids: tf.RaggedTensor) -> None:
        lengths = ids.row_lengths()
        keep = (lengths > 0) & (lengths <= self._max_pieces)
        values = tf.ragged.boolean_mask(ids, keep).to_tensor(-1, shape=[None, self._max_pieces])
        keys = tf.boolean_mask(words, keep)

        def insert():
            self._table.insert(keys, values)
            return tf.constant(True)

        tf.cond(self._table.size() < self._capacity, insert, lambda: tf.constant(False))
