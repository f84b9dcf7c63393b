"""Multi-head self-attention with one fused query/key/value projection, on 2-D token rows.

One [hidden, 3 * hidden] matmul instead of three keeps the CPU busy with fewer, larger kernels;
checkpoint import writes the three reference matrices side by side into it. Tokens stay
`[batch * seq, hidden]` (see `dense.TokenDense`); one transpose brings query, key and value to
`[batch, heads, seq, head_dim]`, the key is read transposed by the matmul itself, and
`scores * scale + bias` follows the batch matmul directly, the form oneDNN runs as one kernel.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.dense import TokenDense
from hubexport.encoders.initializers import normal

MASKED_SCORE = -1e9


def attention_bias(padding_mask, dtype: str):
    """[batch, seq] mask -> [batch, 1, 1, seq] additive bias: 0 for tokens, -1e9 for pads."""
    mask = tf.cast(padding_mask, dtype)
    return ((1.0 - mask) * MASKED_SCORE)[:, tf.newaxis, tf.newaxis, :]


class SelfAttention(keras.layers.Layer):
    """Scaled dot-product attention over all heads; softmax runs in float32."""

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = config.num_heads
        self.head_dim = config.hidden_dim // config.num_heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        init = normal(config.initializer_range)
        self.query_key_value = TokenDense(
            3 * config.hidden_dim, kernel_initializer=init, dtype=self.dtype_policy, name="query_key_value"
        )
        self.output_dense = TokenDense(
            config.hidden_dim, kernel_initializer=init, dtype=self.dtype_policy, name="attention_output"
        )
        self.probability_dropout = keras.layers.Dropout(
            config.resolved_attention_dropout, dtype=self.dtype_policy, name="attention_probability_dropout"
        )

    def call(self, tokens, bias, batch, length, training=None):
        """`tokens` [batch * length, hidden] -> [batch * length, hidden]; `bias` [batch, 1, 1, length]."""
        fused = tf.reshape(self.query_key_value(tokens), (batch, length, 3, self.num_heads, self.head_dim))
        query, key, value = tf.unstack(tf.transpose(fused, (2, 0, 3, 1, 4)))
        scores = tf.cast(tf.matmul(query, key, transpose_b=True) * self.scale, tf.float32) + tf.cast(bias, tf.float32)
        probabilities = self.probability_dropout(
            tf.cast(tf.nn.softmax(scores, axis=-1), self.compute_dtype), training=training
        )
        context = tf.transpose(tf.matmul(probabilities, value), (0, 2, 1, 3))
        # Reshaped to the shape of `tokens` (not (-1, hidden)) so that grappler can prove the residual
        # add that follows has equal shapes and fuses it into the output matmul.
        return self.output_dense(tf.reshape(context, tf.shape(tokens)))
