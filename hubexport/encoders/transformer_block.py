"""The post-LayerNorm transformer block all five families share."""
from __future__ import annotations

import keras

from hubexport.encoders import activations
from hubexport.encoders.attention import SelfAttention
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.initializers import normal


class TransformerBlock(keras.layers.Layer):
    """x -> LN(x + Dropout(Attention(x))) -> LN(h + Dropout(FFN(h)))."""

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        init = normal(config.initializer_range)
        policy = self.dtype_policy
        self.attention = SelfAttention(config, dtype=policy, name="self_attention")
        self.attention_dropout = keras.layers.Dropout(config.dropout, dtype=policy, name="attention_dropout")
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=config.layer_norm_epsilon, dtype=policy, name="attention_layer_norm")
        self.intermediate = keras.layers.Dense(
            config.intermediate_dim, activation=activations.get(config.hidden_activation),
            kernel_initializer=init, dtype=policy, name="intermediate")
        self.output_dense = keras.layers.Dense(
            config.hidden_dim, kernel_initializer=init, dtype=policy, name="output")
        self.output_dropout = keras.layers.Dropout(config.dropout, dtype=policy, name="output_dropout")
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=config.layer_norm_epsilon, dtype=policy, name="output_layer_norm")

    def call(self, hidden, attention_bias, training=None):
        attended = self.attention(hidden, attention_bias, training=training)
        hidden = self.attention_layer_norm(hidden + self.attention_dropout(attended, training=training))
        transformed = self.output_dense(self.intermediate(hidden))
        return self.output_layer_norm(hidden + self.output_dropout(transformed, training=training))
