"""Splits a batch into shards whose ops TensorFlow can run on parallel inter-op threads.

SentencePiece and the string ops run single-threaded per op call; independent ops on disjoint
slices of the batch are scheduled concurrently by the graph executor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

NUM_SHARDS = 2


def map_in_shards(
    fn: Callable[[tf.Tensor], Sequence[tf.Tensor | tf.RaggedTensor]],
    batch: tf.Tensor,
    num_shards: int = NUM_SHARDS,
) -> tuple[tf.Tensor | tf.RaggedTensor, ...]:
    """Applies `fn` (returning a tuple) to `num_shards` slices of `batch`, concatenated back."""
    size = tf.shape(batch, out_type=tf.int64)[0]
    bounds = [size * k // num_shards for k in range(num_shards + 1)]
    results = [fn(batch[bounds[k] : bounds[k + 1]]) for k in range(num_shards)]
    return tuple(tf.concat(list(parts), axis=0) for parts in zip(*results))
