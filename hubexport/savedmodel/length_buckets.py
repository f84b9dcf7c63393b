"""Runs an encoder on a packed batch in buckets of rows of similar length.

A batch packed to a fixed seq_length makes every text pay for the longest possible one, and
Hugging Face's `padding="longest"` makes every text pay for the batch's longest. Sorting the rows
by length and running the encoder on up to `num_buckets` consecutive slices of them, each cut to
its own longest row, spends the matmuls on real tokens instead. A bucket holds at least
`min_rows_per_bucket` rows: on this project's CPU, batches of 32 short texts ran fastest in 2
buckets (4 or 8 buckets of fewer rows lost more to smaller matmuls than they saved). Outputs at real positions are
unchanged (attention never reads padded positions); `sequence_output` is zero at padded positions
and keeps the packed shape [batch, seq_length, hidden].

The buckets are unrolled in the graph rather than run in a `tf.while_loop`: gradients of the
encoder through a while loop with changing shapes corrupted the heap in TensorFlow 2.21's oneDNN
kernels (tests/test_length_buckets.py checks gradients through the buckets).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

Encode = Callable[[dict[str, tf.Tensor]], dict[str, tf.Tensor]]
NUM_BUCKETS = 4
MIN_ROWS_PER_BUCKET = 16


def row_lengths(input_mask: tf.Tensor) -> tf.Tensor:
    """[batch] int32: one past the last real position of each row (0 for an all-padding row)."""
    positions = tf.range(1, tf.shape(input_mask)[1] + 1)
    return tf.maximum(tf.reduce_max(tf.cast(input_mask, tf.int32) * positions, axis=1), 0)


def _widest(lengths: tf.Tensor) -> tf.Tensor:
    """The largest of `lengths`, at least 1 (an encoder call needs one position, even on no rows)."""
    return tf.reduce_max(tf.concat([lengths, [1]], axis=0))


def encode_in_length_buckets(
    encode: Encode,
    inputs: dict[str, tf.Tensor],
    hidden_dim: int,
    num_buckets: int = NUM_BUCKETS,
    min_rows_per_bucket: int = MIN_ROWS_PER_BUCKET,
) -> dict[str, tf.Tensor]:
    """`encode(inputs)`'s `sequence_output` and `pooled_output`, computed bucket by bucket.

    `inputs` are packed tensors [batch, seq_length] (`input_word_ids`, `input_mask`,
    `input_type_ids`); `encode` is the encoder call on such a dict, returning float32 outputs
    whose last axis is `hidden_dim`.
    """
    mask = inputs["input_mask"]
    lengths = row_lengths(mask)
    order = tf.argsort(lengths, direction="DESCENDING", stable=True)
    ordered = {name: tf.gather(tensor, order) for name, tensor in inputs.items()}
    ordered_lengths = tf.gather(lengths, order)
    batch, seq_length = tf.shape(mask)[0], tf.shape(mask)[1]
    rows_per_bucket = tf.maximum((batch + num_buckets - 1) // num_buckets, min_rows_per_bucket)

    def run_bucket(start: tf.Tensor, end: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        width = _widest(ordered_lengths[start:end])
        bucket = {name: tensor[start:end, :width] for name, tensor in ordered.items()}
        outputs = encode(bucket)
        real = tf.cast(bucket["input_mask"], outputs["sequence_output"].dtype)[:, :, tf.newaxis]
        sequence = tf.pad(outputs["sequence_output"] * real, [[0, 0], [0, seq_length - width], [0, 0]])
        return sequence, outputs["pooled_output"]

    def no_rows() -> tuple[tf.Tensor, tf.Tensor]:
        return tf.zeros([0, seq_length, hidden_dim]), tf.zeros([0, hidden_dim])

    sequences, pooled = [], []
    for index in range(num_buckets):
        start = tf.minimum(index * rows_per_bucket, batch)
        end = tf.minimum(start + rows_per_bucket, batch)
        if index == 0:  # always run: an empty batch still gets outputs of the right shapes
            sequence, pooled_bucket = run_bucket(start, end)
        else:  # skip the encoder on an empty bucket (a call on no rows still costs ~3 ms)
            sequence, pooled_bucket = tf.cond(end > start, lambda start=start, end=end: run_bucket(start, end), no_rows)
        sequences.append(sequence)
        pooled.append(pooled_bucket)
    restore = tf.expand_dims(order, 1)
    sequence, pooled_output = tf.concat(sequences, axis=0), tf.concat(pooled, axis=0)
    sequence = tf.scatter_nd(restore, sequence, tf.shape(sequence))
    pooled_output = tf.scatter_nd(restore, pooled_output, tf.shape(pooled_output))
    sequence.set_shape(mask.shape.concatenate([hidden_dim]))
    pooled_output.set_shape(mask.shape[:1].concatenate([hidden_dim]))
    return {"sequence_output": sequence, "pooled_output": pooled_output}
