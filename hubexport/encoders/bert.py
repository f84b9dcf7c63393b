"""BERT: absolute positions, two segments, trained dense+tanh pooler, LayerNorm eps 1e-12."""

from __future__ import annotations

from hubexport.encoders.backbone import EncoderBackbone, register_family
from hubexport.encoders.config import EncoderConfig


@register_family
class BertBackbone(EncoderBackbone):
    """A BERT encoder (keras-hub `BertBackbone` arguments)."""

    family = "bert"

    def __init__(
        self,
        vocabulary_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        dropout: float = 0.1,
        max_sequence_length: int = 512,
        num_segments: int = 2,
        dtype=None,
        *,
        hidden_activation: str = "gelu",
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
            dropout=dropout,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            hidden_activation=hidden_activation,
            layer_norm_epsilon=layer_norm_epsilon,
            pooler="dense_tanh",
        )
        super().__init__(config, dtype=dtype, **kwargs)
