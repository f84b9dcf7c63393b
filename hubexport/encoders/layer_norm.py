"""Layer normalization over the last axis, written so TensorFlow runs it as one oneDNN kernel.

Grappler's remapper replaces exactly one layer-norm spelling by `_MklLayerNorm`: the rows
reshaped to the channels of an NCHW `FusedBatchNormV3` in training mode (batch statistics, unit
scale, zero offset, empty mean/variance constants), reshaped back, then `beta + y * gamma` (tf_keras
spells LayerNormalization this way). Any other spelling stays about ten separate kernels. Without
oneDNN the same ops compute the same normalization. Like Keras' LayerNormalization it computes in
at least float32 and keeps the variable names `gamma` and `beta`.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def normalize_rows(x: tf.Tensor, epsilon: float) -> tf.Tensor:
    """(x - mean) / sqrt(variance + epsilon) over the last axis of float32 `x` (rank 2 or 3)."""
    shape = tf.shape(x)
    rows = tf.reduce_prod(shape[:-1])
    as_channels = tf.reshape(x, tf.stack([1, rows, shape[-1], 1]))
    empty = tf.constant([], tf.float32)
    normalized = tf.raw_ops.FusedBatchNormV3(
        x=as_channels,
        scale=tf.fill([rows], 1.0),
        offset=tf.fill([rows], 0.0),
        mean=empty,
        variance=empty,
        epsilon=epsilon,
        data_format="NCHW",
        is_training=True,
    ).y
    return tf.reshape(normalized, shape)


class LayerNorm(keras.layers.Layer):
    """`(x - mean) / sqrt(variance + epsilon) * gamma + beta` over the last axis."""

    def __init__(self, epsilon: float, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.autocast = False  # as Keras' LayerNormalization: inputs and weights are not cast down

    def build(self, input_shape) -> None:
        width = (input_shape[-1],)
        self.gamma = self.add_weight(name="gamma", shape=width, initializer="ones", autocast=False)
        self.beta = self.add_weight(name="beta", shape=width, initializer="zeros", autocast=False)

    def call(self, inputs):
        normalized = normalize_rows(tf.cast(inputs, tf.float32), self.epsilon)
        return tf.cast(self.beta + normalized * self.gamma, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape
