"""A dense layer on 2-D `[tokens, features]` inputs, written so TensorFlow fuses it on CPU.

TensorFlow's grappler remapper rewrites `MatMul -> BiasAdd (-> GELU)` into one oneDNN
`_FusedMatMul` kernel, but only for a 2-D `MatMul` followed directly by `BiasAdd`, and for exact
GELU only when it is spelled `x * ((erf(x * 1/sqrt(2)) + 1) * 0.5)`. Keras' `Dense` on
`[batch, seq, features]` emits `Reshape -> MatMul -> Reshape -> BiasAdd` and `tf.nn.gelu` emits
`erfc`, so neither fuses. The variables keep Keras' names (`kernel` [in, out], `bias`), so
checkpoint mappings do not change.

`quantize("int8")` turns a built layer into a serving-only int8 layer: the float kernel is replaced by
an int8 `kernel_int8` and its per-output-channel `kernel_range`, and `call` runs `int8_matmul`.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from hubexport.encoders import activations
from hubexport.encoders.int8_matmul import int8_matmul, quantize_kernel
from hubexport.errors import ConfigError

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
        self.int8 = False

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], self.units), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def quantize(self, mode: str, config=None) -> None:
        """Replaces the float32 kernel by int8 weights (per output channel) that `call` multiplies in int8.

        Only `mode="int8"` on a built float32 layer; the int8 weights are not trainable. Keras wraps every
        layer's `quantize` (unlocking its variable tracker) and passes its own `config`, which this fixed
        scheme does not read.
        """
        if mode != "int8" or self.compute_dtype != "float32":
            raise ConfigError(
                f"{self.name}: only a float32 layer quantizes, to int8 (got {mode!r}, {self.compute_dtype})"
            )
        quantized, column_range = quantize_kernel(self.kernel.numpy())
        del self.kernel
        self.kernel_int8 = self.add_weight(
            name="kernel_int8", shape=quantized.shape, dtype="int8", initializer="zeros", trainable=False
        )
        self.kernel_range = self.add_weight(
            name="kernel_range", shape=column_range.shape, initializer="zeros", trainable=False
        )
        self.kernel_int8.assign(quantized)
        self.kernel_range.assign(column_range)
        self.int8 = True

    def call(self, tokens):
        if self.int8:
            outputs = int8_matmul(tokens, self.kernel_int8, self.kernel_range, self.bias)
        else:
            outputs = tf.nn.bias_add(tf.matmul(tokens, self.kernel), self.bias)
        return outputs if self.activation is None else self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)
