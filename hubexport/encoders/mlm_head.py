"""The masked-LM head: hidden states at the masked positions -> logits over the vocabulary.

All five families share its shape: dense (hidden -> embedding width) + activation + LayerNorm,
then a product with the output matrix plus a bias. The output matrix is the token embedding itself
when the checkpoint ties them (the same variable, so fine-tuning updates both), else its own weight.
The activation is the checkpoint's: Hugging Face's RoBERTa and ELECTRA heads always use erf GELU,
BERT and ALBERT heads the encoder's `hidden_act`.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from hubexport.encoders import activations
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.initializers import normal

# Hugging Face's RoBERTa and ELECTRA LM heads use erf GELU whatever the encoder's activation is.
_FIXED_ACTIVATION = {"roberta": "gelu", "xlm_roberta": "gelu", "electra": "gelu"}


@dataclasses.dataclass(frozen=True)
class MaskedLMHeadSpec:
    """The numerics of a checkpoint's LM head that the encoder config does not say."""

    activation: str
    layer_norm_epsilon: float
    tied: bool = True

    @classmethod
    def for_config(cls, config: EncoderConfig, tied: bool = True) -> MaskedLMHeadSpec:
        """The head Hugging Face builds for this family and encoder config."""
        return cls(
            activation=_FIXED_ACTIVATION.get(config.family, config.hidden_activation),
            layer_norm_epsilon=config.layer_norm_epsilon,
            tied=tied,
        )


class MaskedLMHead(keras.layers.Layer):
    """`(sequence_output [b, s, h], masked_lm_positions [b, p]) -> logits [b, p, vocab]`."""

    def __init__(
        self, config: EncoderConfig, spec: MaskedLMHeadSpec, token_embedding: keras.layers.Embedding, **kwargs
    ):
        super().__init__(**kwargs)
        width = config.resolved_embedding_dim
        init = normal(config.initializer_range)
        self.spec = spec
        self.transform = keras.layers.Dense(
            width,
            activation=activations.get(spec.activation),
            kernel_initializer=init,
            dtype=self.dtype_policy,
            name="transform",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=spec.layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.token_embedding = token_embedding if spec.tied else None
        self.output_kernel = (
            None
            if spec.tied
            else self.add_weight(shape=(width, config.vocabulary_size), initializer=init, name="output_kernel")
        )
        self.output_bias = self.add_weight(shape=(config.vocabulary_size,), initializer="zeros", name="output_bias")
        self(ops.zeros((1, 1, config.hidden_dim), dtype=self.compute_dtype), ops.zeros((1, 1), dtype="int32"))

    def call(self, sequence_output, masked_lm_positions):
        positions = ops.expand_dims(ops.cast(masked_lm_positions, "int32"), -1)
        gathered = ops.take_along_axis(sequence_output, positions, axis=1)
        transformed = self.layer_norm(self.transform(gathered))
        if self.token_embedding is not None:
            kernel = ops.transpose(ops.cast(self.token_embedding.embeddings, self.compute_dtype))
        else:
            kernel = ops.cast(self.output_kernel, self.compute_dtype)
        return ops.matmul(transformed, kernel) + ops.cast(self.output_bias, self.compute_dtype)
