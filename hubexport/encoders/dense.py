"""A dense layer on 2-D `[tokens, features]` inputs, written so TensorFlow fuses it on CPU.

TensorFlow's grappler remapper rewrites `MatMul -> BiasAdd (-> GELU)` into one oneDNN
`_FusedMatMul` kernel, but only for a 2-D `MatMul` followed directly by `BiasAdd`, and for exact
GELU only when it is spelled `x * ((erf(x * 1/sqrt(2)) + 1) * 0.5)`. Keras' `Dense` on
`[batch, seq, features]` emits `Reshape -> MatMul -> Reshape -> BiasAdd` and `tf.nn.gelu` emits
`erfc`, so neither fuses. The variables keep Keras' names (`kernel` [in, out], `bias`), so
checkpoint mappings do not change.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from hubexport.encoders import activations

SQRT_HALF = 1.0 / math.sqrt(2.0)


def exact_gelu(x: tf.Tensor) -> tf.Tensor:
    """Exact (erf) GELU in the operand order grappler's remapper matches after MatMul+BiasAdd."""
    return x * ((tf.math.erf(x * SQRT_HALF) + 1.0) * 0.5)


def fusable_activation(name: str | None):
    """The activation for a config name, in a form TensorFlow fuses into the matmul where it can."""
    if name is None:
        return None
    if name == "gelu":
        return exact_gelu
    return activations.get(name)


class TokenDense(keras.layers.Layer):
    """`activation(x @ kernel + bias)` for `x` of shape `[tokens, input_dim]`."""

    def __init__(self, units: int, activation: str | None = None, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = fusable_activation(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], self.units), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, tokens):
        outputs = tf.nn.bias_add(tf.matmul(tokens, self.kernel), self.bias)
        return outputs if self.activation is None else self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)
