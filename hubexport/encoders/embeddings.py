"""Input embeddings: token + position (+ token type), LayerNorm, dropout, optional projection.

LayerNorm runs at `embedding_dim`; the projection to `hidden_dim` comes after it, as in ALBERT
and ELECTRA (`embedding_hidden_mapping_in` / `embeddings_project`), on 2-D token rows so it is
one fused matmul (see `dense`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.dense import TokenDense
from hubexport.encoders.initializers import normal
from hubexport.encoders.layer_norm import LayerNorm
from hubexport.encoders.position_ids import position_ids


class EncoderEmbeddings(keras.layers.Layer):
    """Maps token ids, segment ids and the padding mask to the first hidden states."""

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        width = config.resolved_embedding_dim
        init = normal(config.initializer_range)
        self.token_embedding = keras.layers.Embedding(
            config.vocabulary_size, width, embeddings_initializer=init, dtype=self.dtype_policy, name="token_embedding"
        )
        self.position_embedding = keras.layers.Embedding(
            config.position_table_size,
            width,
            embeddings_initializer=init,
            dtype=self.dtype_policy,
            name="position_embedding",
        )
        self.segment_embedding = None
        if config.num_segments:
            self.segment_embedding = keras.layers.Embedding(
                config.num_segments,
                width,
                embeddings_initializer=init,
                dtype=self.dtype_policy,
                name="segment_embedding",
            )
        self.layer_norm = LayerNorm(config.layer_norm_epsilon, dtype=self.dtype_policy, name="embeddings_layer_norm")
        self.dropout = keras.layers.Dropout(config.dropout, dtype=self.dtype_policy, name="embeddings_dropout")
        self.projection = None
        if config.projects_embeddings:
            self.projection = TokenDense(
                config.hidden_dim, kernel_initializer=init, dtype=self.dtype_policy, name="embeddings_projection"
            )

    def call(self, token_ids, segment_ids, padding_mask, training=None):
        config = self.config
        embedded = self.token_embedding(token_ids)
        embedded = embedded + self.position_embedding(
            position_ids(padding_mask, config.position_style, config.padding_position)
        )
        if self.segment_embedding is not None:
            embedded = embedded + self.segment_embedding(segment_ids)
        embedded = self.dropout(self.layer_norm(embedded), training=training)
        if self.projection is not None:
            shape = tf.shape(embedded)
            tokens = self.projection(tf.reshape(embedded, (-1, config.resolved_embedding_dim)))
            embedded = tf.reshape(tokens, (shape[0], shape[1], config.hidden_dim))
        return embedded
