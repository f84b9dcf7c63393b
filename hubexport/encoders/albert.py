"""ALBERT: factorized embeddings projected to `hidden_dim`, groups of blocks shared across layers."""

from __future__ import annotations

from hubexport.encoders.backbone import EncoderBackbone, register_family
from hubexport.encoders.config import EncoderConfig


@register_family
class AlbertBackbone(EncoderBackbone):
    """An ALBERT encoder (keras-hub `AlbertBackbone` arguments)."""

    family = "albert"

    def __init__(
        self,
        vocabulary_size: int,
        num_layers: int,
        num_heads: int,
        embedding_dim: int,
        hidden_dim: int,
        intermediate_dim: int,
        num_groups: int = 1,
        num_inner_repetitions: int = 1,
        dropout: float = 0.0,
        max_sequence_length: int = 512,
        num_segments: int = 2,
        dtype=None,
        *,
        hidden_activation: str = "gelu_approximate",
        layer_norm_epsilon: float = 1e-12,
        **kwargs,
    ):
        config = EncoderConfig(
            family=self.family,
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            embedding_dim=embedding_dim,
            num_groups=num_groups,
            num_inner_repetitions=num_inner_repetitions,
            dropout=dropout,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            hidden_activation=hidden_activation,
            layer_norm_epsilon=layer_norm_epsilon,
            pooler="dense_tanh",
            always_project_embeddings=True,
        )
        super().__init__(config, dtype=dtype, **kwargs)
