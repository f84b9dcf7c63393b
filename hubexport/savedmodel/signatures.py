"""The TF-Hub encoder contract: input specs and the flattening of outputs for serving.

Serving signatures must return a flat dict of tensors, so the `encoder_outputs` list is spelled out
as `encoder_outputs_0`, `encoder_outputs_1`, ... in `serving_default`.
"""
from __future__ import annotations

import tensorflow as tf

ENCODER_INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")


def encoder_input_specs() -> dict[str, tf.TensorSpec]:
    """int32 [batch, seq] specs for the three encoder inputs, any batch and length."""
    return {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in ENCODER_INPUT_NAMES}


def flatten_outputs(outputs: dict) -> dict[str, tf.Tensor]:
    """Replaces list-valued outputs by numbered entries: `encoder_outputs_0`, ..."""
    flat = {}
    for name, value in outputs.items():
        if isinstance(value, (list, tuple)):
            flat.update({f"{name}_{index}": item for index, item in enumerate(value)})
        else:
            flat[name] = value
    return flat
