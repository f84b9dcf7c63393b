"""The post-LayerNorm transformer block all five families share.

Inside the block the hidden states are `[batch * seq, hidden]` rows (a free reshape), so every
dense layer is a 2-D matmul that TensorFlow fuses with its bias and activation (see `dense`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from hubexport.encoders.attention import SelfAttention
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.dense import TokenDense
from hubexport.encoders.initializers import normal
from hubexport.encoders.layer_norm import LayerNorm


class TransformerBlock(keras.layers.Layer):
    """x -> LN(x + Dropout(Attention(x))) -> LN(h + Dropout(FFN(h)))."""

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        init = normal(config.initializer_range)
        policy = self.dtype_policy
        self.hidden_dim = config.hidden_dim
        self.attention = SelfAttention(config, dtype=policy, name="self_attention")
        self.attention_dropout = keras.layers.Dropout(config.dropout, dtype=policy, name="attention_dropout")
        self.attention_layer_norm = LayerNorm(config.layer_norm_epsilon, dtype=policy, name="attention_layer_norm")
        self.intermediate = TokenDense(
            config.intermediate_dim,
            activation=config.hidden_activation,
            kernel_initializer=init,
            dtype=policy,
            name="intermediate",
        )
        self.output_dense = TokenDense(config.hidden_dim, kernel_initializer=init, dtype=policy, name="output")
        self.output_dropout = keras.layers.Dropout(config.dropout, dtype=policy, name="output_dropout")
        self.output_layer_norm = LayerNorm(config.layer_norm_epsilon, dtype=policy, name="output_layer_norm")

    @property
    def dense_layers(self) -> tuple[TokenDense, ...]:
        """The block's four dense layers: query/key/value, attention output, intermediate, output."""
        return (self.attention.query_key_value, self.attention.output_dense, self.intermediate, self.output_dense)

    def call(self, hidden, attention_bias, training=None):
        shape = tf.shape(hidden)
        tokens = tf.reshape(hidden, (-1, self.hidden_dim))
        attended = self.attention(tokens, attention_bias, shape[0], shape[1], training=training)
        tokens = self.attention_layer_norm(self.attention_dropout(attended, training=training) + tokens)
        transformed = self.output_dense(self.intermediate(tokens))
        tokens = self.output_layer_norm(self.output_dropout(transformed, training=training) + tokens)
        return tf.reshape(tokens, shape)

    def compute_output_shape(self, hidden_shape, attention_bias_shape=None):
        return hidden_shape
