"""Classification heads on the encoder's outputs, as Hugging Face's `*ForSequenceClassification` and
`*ForTokenClassification` models compute them.

`ClassifierHead(pooled_output, sequence_output)` returns float32 logits: `[batch, num_labels]` for a
sequence head, `[batch, seq, num_labels]` for a token head. Every head is dropout -> (optional dense +
activation -> dropout) -> linear `out_proj`, read from one of three places:

- `"pooled_output"`: BERT's and ALBERT's sequence heads (their trained dense+tanh pooler, then a linear
  classifier);
- `"first_token"`: RoBERTa's, XLM-R's (dense + tanh) and ELECTRA's (dense + erf GELU) sequence heads, on
  the first token's final hidden state;
- `"every_token"`: the token heads of all five families, one linear layer per token.

The dense layers are the encoder's `TokenDense` (kernel [in, out], bias), so what applies to the
encoder's dense layers applies to the heads too.
"""

from __future__ import annotations

import keras
from keras import ops

from hubexport.encoders.dense import TokenDense
from hubexport.encoders.initializers import normal

READS = ("pooled_output", "first_token", "every_token")


class ClassifierHead(keras.layers.Layer):
    """`(pooled_output [b, H], sequence_output [b, s, H]) -> logits` (see the module docstring)."""

    def __init__(
        self,
        *,
        hidden_dim: int,
        num_labels: int,
        reads: str,
        hidden_activation: str | None = None,
        dropout: float = 0.1,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if reads not in READS:
            raise ValueError(f"reads must be one of {READS}, got {reads!r}")
        self.hidden_dim, self.num_labels, self.reads = hidden_dim, num_labels, reads
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")
        init = normal(initializer_range)
        self.dense = (
            None
            if hidden_activation is None
            else TokenDense(
                hidden_dim, activation=hidden_activation, kernel_initializer=init, dtype=self.dtype_policy, name="dense"
            )
        )
        self.out_proj = TokenDense(num_labels, kernel_initializer=init, dtype=self.dtype_policy, name="out_proj")
        self(ops.zeros((1, hidden_dim), self.compute_dtype), ops.zeros((1, 1, hidden_dim), self.compute_dtype))

    def call(self, pooled_output, sequence_output, training=False):
        if self.reads == "pooled_output":
            features = pooled_output
        elif self.reads == "first_token":
            features = sequence_output[:, 0, :]
        else:
            features = ops.reshape(sequence_output, (-1, self.hidden_dim))
        features = ops.cast(features, self.compute_dtype)
        features = self.dropout(features, training=training)
        if self.dense is not None:
            features = self.dropout(self.dense(features), training=training)
        logits = ops.cast(self.out_proj(features), "float32")
        if self.reads == "every_token":
            shape = ops.shape(sequence_output)
            logits = ops.reshape(logits, (shape[0], shape[1], self.num_labels))
        return logits
