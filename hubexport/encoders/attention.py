"""Multi-head self-attention with one fused query/key/value projection.

One [hidden, 3 * hidden] matmul instead of three keeps the CPU busy with fewer, larger kernels;
checkpoint import writes the three reference matrices side by side into it.
"""
from __future__ import annotations

import math

import keras
from keras import ops

from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.initializers import normal

MASKED_SCORE = -1e9


def attention_bias(padding_mask, dtype: str):
    """[batch, seq] mask -> [batch, 1, 1, seq] additive bias: 0 for tokens, -1e9 for pads."""
    mask = ops.cast(padding_mask, dtype)
    return ops.expand_dims(ops.expand_dims((1.0 - mask) * MASKED_SCORE, 1), 1)


class SelfAttention(keras.layers.Layer):
    """Scaled dot-product attention over all heads; softmax runs in float32."""

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = config.num_heads
        self.head_dim = config.hidden_dim // config.num_heads
        init = normal(config.initializer_range)
        self.query_key_value = keras.layers.Dense(
            3 * config.hidden_dim, kernel_initializer=init, dtype=self.dtype_policy, name="query_key_value")
        self.output_dense = keras.layers.Dense(
            config.hidden_dim, kernel_initializer=init, dtype=self.dtype_policy, name="attention_output")
        self.probability_dropout = keras.layers.Dropout(
            config.resolved_attention_dropout, dtype=self.dtype_policy, name="attention_probability_dropout")

    def call(self, hidden, bias, training=None):
        batch, length = ops.shape(hidden)[0], ops.shape(hidden)[1]
        fused = ops.reshape(self.query_key_value(hidden), (batch, length, 3, self.num_heads, self.head_dim))
        fused = ops.transpose(fused, (2, 0, 3, 1, 4))
        query, key, value = fused[0], fused[1], fused[2]
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2))) * (1.0 / math.sqrt(self.head_dim))
        probabilities = ops.softmax(ops.cast(scores, "float32") + ops.cast(bias, "float32"), axis=-1)
        probabilities = self.probability_dropout(ops.cast(probabilities, self.compute_dtype), training=training)
        context = ops.transpose(ops.matmul(probabilities, value), (0, 2, 1, 3))
        return self.output_dense(ops.reshape(context, (batch, length, self.num_heads * self.head_dim)))
