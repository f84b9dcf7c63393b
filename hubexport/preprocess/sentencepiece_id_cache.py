"""A bounded cache, kept in the graph, of the pieces of words already encoded.

Hugging Face's BPE keeps such a cache; SentencePiece's BPE is slow enough that without one the
in-graph tokenizer cannot keep up. Cached results are the ones SentencePiece gave, so the cache
changes speed, never ids. It is one `MutableHashTable` from a word to its first `MAX_PIECES` ids
(padded with -1; longer words are not kept), saved with the SavedModel (empty at export); a
single table keeps concurrent calls consistent (each lookup and insert is atomic). It stops
growing at `capacity` words.

A word's ids are stored as one string, each id written as a code point (`ids_to_text`), so that
hits, misses and whole texts are handled with a few string ops instead of ragged gathers.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

CAPACITY = 100_000
MAX_PIECES = 16
_SURROGATES, _SURROGATE_COUNT = 0xD800, 0x800


def _to_code_points(ids):
    """Id i as code point i, ids from U+D800 up moved past the surrogates (UTF-8 cannot hold
    them); negative ids stay negative."""
    return tf.where(ids < _SURROGATES, ids, ids + _SURROGATE_COUNT)


def ids_to_text(ids: tf.RaggedTensor) -> tf.Tensor:
    """int32 ids [n, (k)] -> UTF-8 strings [n], one code point per id."""
    return tf.strings.unicode_encode(tf.ragged.map_flat_values(_to_code_points, ids), "UTF-8")


def text_to_ids(texts: tf.Tensor) -> tf.RaggedTensor:
    """The inverse of `ids_to_text`."""
    code_points = tf.strings.unicode_decode(texts, "UTF-8")
    return tf.ragged.map_flat_values(
        lambda v: tf.where(v < _SURROGATES, v, v - _SURROGATE_COUNT), code_points
    ).with_row_splits_dtype(tf.int64)


class WordCache(tf.Module):
    """Distinct words [n] -> their ids as text [n], encoding only the words not cached."""

    def __init__(self, capacity: int = CAPACITY, name: str | None = None):
        super().__init__(name=name)
        self._capacity = capacity
        self._table = tf.lookup.experimental.MutableHashTable(
            tf.string, tf.int32, default_value=[-1] * MAX_PIECES
        )

    def encode(self, words: tf.Tensor, encode: Callable[[tf.Tensor], tf.Tensor]) -> tf.Tensor:
        """The ids (as text) of distinct `words`, from the cache or from `encode` (which gives ids
        as text too); new results are remembered while the cache has room."""
        cached = tf.reshape(self._table.lookup(words), [-1, MAX_PIECES])
        misses = tf.where(cached[:, 0] < 0)
        missing = tf.gather_nd(words, misses)
        fresh = encode(missing)
        self._remember(missing, text_to_ids(fresh))
        # -1 padding is not a code point: "ignore" drops it.
        known = tf.strings.unicode_encode(_to_code_points(cached), "UTF-8", errors="ignore")
        return tf.tensor_scatter_nd_update(known, misses, fresh)

    def _remember(self, words: tf.Tensor, ids: tf.RaggedTensor) -> None:
        lengths = ids.row_lengths()
        keep = (lengths > 0) & (lengths <= MAX_PIECES)
        values = tf.ragged.boolean_mask(ids, keep).to_tensor(-1, shape=[None, MAX_PIECES])
        keys = tf.boolean_mask(words, keep)

        def insert():
            self._table.insert(keys, values)
            return tf.constant(True)

        tf.cond(self._table.size() < self._capacity, insert, lambda: tf.constant(False))
