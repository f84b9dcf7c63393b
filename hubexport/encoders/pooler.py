"""Pooled output: a trained dense+tanh on the first token, or the first token itself.

BERT and ALBERT checkpoints carry a trained pooler; ELECTRA defines the pooled output as the first
token's hidden state, and RoBERTa/XLM-R use their checkpoint's pooler only where one exists.
"""

from __future__ import annotations

import keras

from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.initializers import normal


class Pooler(keras.layers.Layer):
    """[batch, seq, hidden] -> [batch, hidden] by the config's `pooler` policy."""

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = None
        if config.pooler == "dense_tanh":
            self.dense = keras.layers.Dense(
                config.hidden_dim,
                activation="tanh",
                kernel_initializer=normal(config.initializer_range),
                dtype=self.dtype_policy,
                name="pooler_dense",
            )

    def call(self, sequence_output):
        first_token = sequence_output[:, 0, :]
        return first_token if self.dense is None else self.dense(first_token)
