"""RoBERTa and XLM-RoBERTa: padding-offset positions, eps 1e-5, first-token pooling by default.

Positions follow fairseq: real tokens are numbered from `padding_position + 1` (2) using the mask,
so the table has `max_sequence_length + 2` rows and left padding is handled. Checkpoints carry a
one-row token-type table (`num_segments=1`). The released checkpoints have no trained pooler, so
`pooled_output` is the first token's hidden state unless `pooler="dense_tanh"` (a checkpoint that
has one).
"""

from __future__ import annotations

from hubexport.encoders.backbone import EncoderBackbone, register_family
from hubexport.encoders.config import EncoderConfig


@register_family
class RobertaBackbone(EncoderBackbone):
    """A RoBERTa encoder (keras-hub `RobertaBackbone` arguments)."""

    family = "roberta"

    def __init__(
        self,
        vocabulary_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        dropout: float = 0.1,
        max_sequence_length: int = 512,
        dtype=None,
        *,
        num_segments: int = 1,
        hidden_activation: str = "gelu",
        layer_norm_epsilon: float = 1e-5,
        pooler: str = "first_token",
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
            position_style="padding_offset",
            padding_position=1,
            pooler=pooler,
        )
        super().__init__(config, dtype=dtype, **kwargs)


@register_family
class XLMRobertaBackbone(RobertaBackbone):
    """An XLM-RoBERTa encoder: RoBERTa's architecture with a multilingual vocabulary."""

    family = "xlm_roberta"
