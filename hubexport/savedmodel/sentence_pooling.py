"""sentence-transformers' Pooling modes in TensorFlow ops, on right-padded encoder outputs.

Each mode maps `sequence_output` float32 [batch, seq, H] and `input_mask` int [batch, seq] (1 for tokens,
0 for padding, padding on the right) to [batch, H], with sentence-transformers' formulas:

- cls: the first real token (argmax of the mask; position 0 for right padding);
- max: the maximum over real tokens (padding counts as -inf; an all-padding row gives -inf);
- mean / mean_sqrt_len_tokens: the masked sum over max(count, 1e-9), or over its square root;
- weightedmean: real tokens weighted by their 1-based position, over max(sum of weights, 1e-9);
- lasttoken: the last real token (position row length - 1), zero for an all-padding row.

Padding to a longer seq_length changes none of them: the encoder's outputs at real positions do not depend
on it, and max masks padding out rather than trusting the zeros the length buckets write there.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from hubexport.savedmodel.length_buckets import row_lengths

COUNT_FLOOR = 1e-9  # sentence-transformers' clamp on the number (or weight) of tokens


def pool_tokens(sequence_output: tf.Tensor, input_mask: tf.Tensor, modes: Sequence[str]) -> tf.Tensor:
    """The `modes`' poolings (see the module docstring) concatenated in order: [batch, len(modes) * H]."""
    mask = tf.cast(input_mask, sequence_output.dtype)[:, :, tf.newaxis]
    count = tf.reduce_sum(mask, axis=1)
    pooled = []
    for mode in modes:
        if mode == "cls":
            pooled.append(tf.gather(sequence_output, tf.argmax(input_mask, axis=1, output_type=tf.int32), batch_dims=1))
        elif mode == "max":
            pooled.append(tf.reduce_max(tf.where(mask > 0, sequence_output, float("-inf")), axis=1))
        elif mode == "mean":
            pooled.append(tf.reduce_sum(sequence_output * mask, axis=1) / tf.maximum(count, COUNT_FLOOR))
        elif mode == "mean_sqrt_len_tokens":
            pooled.append(tf.reduce_sum(sequence_output * mask, axis=1) / tf.sqrt(tf.maximum(count, COUNT_FLOOR)))
        elif mode == "weightedmean":
            positions = tf.cast(tf.range(1, tf.shape(mask)[1] + 1), mask.dtype)[tf.newaxis, :, tf.newaxis]
            weights = mask * positions
            pooled.append(
                tf.reduce_sum(sequence_output * weights, axis=1)
                / tf.maximum(tf.reduce_sum(weights, axis=1), COUNT_FLOOR)
            )
        elif mode == "lasttoken":
            last = tf.maximum(row_lengths(input_mask) - 1, 0)
            pooled.append(tf.gather(sequence_output * mask, last, batch_dims=1))
        else:
            raise ValueError(f"unknown pooling mode {mode!r}")
    return tf.concat(pooled, axis=-1)


def masked_mean(sequence_output: tf.Tensor, input_mask: tf.Tensor) -> tf.Tensor:
    """Mean of `sequence_output` [batch, seq, H] over the positions where `input_mask` is 1 (zero for none)."""
    return pool_tokens(sequence_output, input_mask, ("mean",))
