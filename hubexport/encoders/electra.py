"""ELECTRA: embeddings at `embedding_dim`, projected only when it differs from `hidden_dim`.

Original ELECTRA defines `pooled_output` as the first token's final hidden state; there is no
trained pooler in its checkpoints, so none is built.
"""

from __future__ import annotations

from hubexport.encoders.backbone import EncoderBackbone, register_family
from hubexport.encoders.config import EncoderConfig
from hubexport.errors import ConfigError


@register_family
class ElectraBackbone(EncoderBackbone):
    """An ELECTRA discriminator or generator (keras-hub `ElectraBackbone` arguments).

    The first argument is also accepted as `vocab_size`, the name in keras-hub's signature.
    """

    family = "electra"

    def __init__(
        self,
        vocabulary_size: int | None = None,
        num_layers: int | None = None,
        num_heads: int | None = None,
        hidden_dim: int | None = None,
        embedding_dim: int | None = None,
        intermediate_dim: int | None = None,
        dropout: float = 0.1,
        max_sequence_length: int = 512,
        num_segments: int = 2,
        dtype=None,
        *,
        vocab_size: int | None = None,
        hidden_activation: str = "gelu",
        layer_norm_epsilon: float = 1e-12,
        **kwargs,
    ):
        if (vocabulary_size is None) == (vocab_size is None):
            raise ConfigError("ElectraBackbone takes exactly one of vocabulary_size and vocab_size")
        config = EncoderConfig(
            family=self.family,
            vocabulary_size=vocabulary_size or vocab_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            embedding_dim=embedding_dim,
            dropout=dropout,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            hidden_activation=hidden_activation,
            layer_norm_epsilon=layer_norm_epsilon,
            pooler="first_token",
        )
        super().__init__(config, dtype=dtype, **kwargs)
