"""`tokens @ kernel + bias` as an int8 matmul on CPU, with an int32 accumulate and a float32 result.

The kernel is oneDNN's `_QuantizedMatMul` (TensorFlow's x86 pip build registers it; it runs on VNNI
and AMX-INT8): int8 activations times int8 weights, accumulated in int32, the bias added and the
result dequantized to float32 in the same kernel. Weights are quantized once, per output channel
(`quantize_kernel`); activations are quantized on every call with one scale per row (token),
`max|row| / 127` (dynamic: no calibration, no range that real text can overflow), applied to the
kernel's float32 result. Both are symmetric (`SCALED`, no zero point), so
`int8_matmul(x, *quantize_kernel(w), b)` equals `round(x / sx) @ round(w / sw) * sx * sw + b` up to
float rounding, with `sx` [rows, 1] and `sw` [out].
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2
from tensorflow.python.eager import context, execute

INT8_MAX = 127.0
# Keeps the activation scale finite when a whole tensor is zero.
SMALLEST_RANGE = 1e-12


def quantize_kernel(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float `[in, out]` kernel -> (int8 `[in, out]`, float32 `[out]` range): each output column is
    scaled so that its largest magnitude becomes 127, `kernel ~ int8 * range / 127`."""
    kernel = np.asarray(kernel, np.float32)
    column_range = np.maximum(np.max(np.abs(kernel), axis=0), SMALLEST_RANGE).astype(np.float32)
    quantized = np.clip(np.rint(kernel * (INT8_MAX / column_range)), -INT8_MAX, INT8_MAX).astype(np.int8)
    return quantized, column_range


def _attr_value(value) -> attr_value_pb2.AttrValue:
    if isinstance(value, bool):
        return attr_value_pb2.AttrValue(b=value)
    if isinstance(value, str):
        return attr_value_pb2.AttrValue(s=value.encode())
    if isinstance(value, tf.DType):
        return attr_value_pb2.AttrValue(type=value.as_datatype_enum)
    if all(isinstance(item, str) for item in value):
        return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(s=[item.encode() for item in value]))
    types = [item.as_datatype_enum for item in value]
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(type=types))


def _quantized_matmul(inputs: list[tf.Tensor], attrs: dict) -> tf.Tensor:
    """Runs `_QuantizedMatMul` (an internal op: not in `tf.raw_ops`) eagerly or into the current graph."""
    inputs = [tf.convert_to_tensor(tensor) for tensor in inputs]
    attrs = {**attrs, "Tdevice_inputs": [], "Thost_inputs": [tensor.dtype for tensor in inputs], "Tdevice_outputs": []}
    if context.executing_eagerly():
        flat_attrs = []
        for name, value in attrs.items():
            flat_attrs += [name, value.as_datatype_enum if isinstance(value, tf.DType) else value]
        (output,) = execute.execute("_QuantizedMatMul", 1, inputs, tuple(flat_attrs), context.context())
        return output
    graph = tf.compat.v1.get_default_graph()
    op = graph._create_op_internal(
        "_QuantizedMatMul", inputs, name="int8_matmul", attrs={name: _attr_value(v) for name, v in attrs.items()}
    )
    return op.outputs[0]


def int8_matmul(tokens: tf.Tensor, kernel: tf.Tensor, kernel_range: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """float32 `tokens` [rows, in] @ int8 `kernel` [in, out] + float32 `bias` [out] -> float32 [rows, out].

    `kernel_range` (float32 [out]) is each column's float range from `quantize_kernel`. Each row of
    `tokens` is quantized with its own scale, `max|row| / 127`, which the float32 result is multiplied by.
    """
    row_range = tf.maximum(tf.reduce_max(tf.abs(tokens), axis=1, keepdims=True), SMALLEST_RANGE)
    quantized_rows = tf.cast(tf.round(tokens * (INT8_MAX / row_range)), tf.int8)
    inputs = [
        tf.raw_ops.Bitcast(input=quantized_rows, type=tf.qint8),
        tf.raw_ops.Bitcast(input=kernel, type=tf.qint8),
        tf.zeros_like(bias),
        -INT8_MAX,
        INT8_MAX,
        -kernel_range,
        kernel_range,
    ]
    attrs = {
        "Thost_outputs": [tf.float32],
        "T1": tf.qint8,
        "T2": tf.qint8,
        "Tbias": tf.float32,
        "Tout": tf.float32,
        "U": tf.float32,
        "fused_ops": ["BiasAdd", "Dequantize"],
        "input_quant_mode": "SCALED",
        "output_quant_mode": "SCALED",
        "transpose_a": False,
        "transpose_b": False,
        # oneDNN keeps the reordered weights of a graph node across calls; an eager kernel serves every layer.
        "is_weight_const": not context.executing_eagerly(),
        "is_bias_const": False,
    }
    return _quantized_matmul(inputs, attrs) * (row_range / INT8_MAX) + bias
