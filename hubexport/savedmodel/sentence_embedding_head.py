"""The end-to-end model's `embedding`: pooling, then sentence-transformers' Dense and Normalize modules.

`SentenceEmbeddingHead` maps `sequence_output` float32 [batch, seq, H] and `input_mask` int32 [batch, seq]
to `embedding` float32 [batch, output_dim]. Without a sentence-transformers chain it is the masked mean
(output_dim H); with one (see checkpoints/sentence_transformers_dir) it pools with the chain's modes
(sentence_pooling) and runs its Dense (`activation(x @ kernel + bias)`, kernel and bias trainable
variables) and Normalize (`x / max(||x||_2, 1e-12)`, as torch's F.normalize) modules in order.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from hubexport.checkpoints.sentence_transformers_dense import DenseModule
from hubexport.checkpoints.sentence_transformers_dir import SentenceTransformersChain
from hubexport.savedmodel.sentence_pooling import pool_tokens

ACTIVATIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "identity": tf.identity,
    "tanh": tf.tanh,
    "relu": tf.nn.relu,
    "sigmoid": tf.sigmoid,
    "gelu": lambda x: tf.nn.gelu(x, approximate=False),
    "silu": tf.nn.silu,
}
NORM_FLOOR = 1e-12  # torch.nn.functional.normalize's eps


class DenseStep(tf.Module):
    """`activation(x @ kernel + bias)` for x [batch, in_features]."""

    def __init__(self, module: DenseModule):
        super().__init__(name=f"dense_{module.path}".replace("/", "_") if module.path else "dense")
        self.kernel = tf.Variable(module.kernel, name="kernel")
        self.bias = None if module.bias is None else tf.Variable(module.bias, name="bias")
        self.activation = module.activation

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        y = tf.matmul(x, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        return ACTIVATIONS[self.activation](y)


class NormalizeStep(tf.Module):
    """L2 normalization of each row, `x / max(||x||_2, 1e-12)`."""

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return x / tf.maximum(tf.norm(x, axis=-1, keepdims=True), NORM_FLOOR)


class SentenceEmbeddingHead(tf.Module):
    """Pooling then the chain's Dense / Normalize steps (see the module docstring)."""

    def __init__(self, chain: SentenceTransformersChain | None = None):
        super().__init__(name="sentence_embedding")
        self.pooling_modes = ("mean",) if chain is None else chain.pooling_modes
        self.steps = (
            []
            if chain is None
            else [DenseStep(module) if isinstance(module, DenseModule) else NormalizeStep() for module in chain.head]
        )

    def __call__(self, sequence_output: tf.Tensor, input_mask: tf.Tensor) -> tf.Tensor:
        embedding = pool_tokens(sequence_output, input_mask, self.pooling_modes)
        for step in self.steps:
            embedding = step(embedding)
        return embedding
