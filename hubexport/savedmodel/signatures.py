"""The TF-Hub encoder contract: input specs, their valid ranges, and the flattening of outputs for serving.

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


def checked_encoder_inputs(
    inputs: dict[str, tf.Tensor], *, vocabulary_size: int, num_segments: int, max_sequence_length: int
) -> dict[str, tf.Tensor]:
    """`inputs`, once checked: a token id outside [0, vocabulary_size), a type id outside [0, num_segments)
    (when the encoder has a token-type table) or more than `max_sequence_length` positions fails with an
    InvalidArgumentError naming the input and its valid range, as Hugging Face refuses them (a negative id
    would otherwise silently read another row)."""
    ids, types = inputs["input_word_ids"], inputs["input_type_ids"]
    id_range = f"input_word_ids must be in [0, {vocabulary_size})"
    checks = [
        tf.debugging.assert_non_negative(ids, message=id_range),
        tf.debugging.assert_less(ids, tf.constant(vocabulary_size, ids.dtype), message=id_range),
        tf.debugging.assert_less_equal(
            tf.shape(ids)[1],
            max_sequence_length,
            message=f"input_word_ids has more positions than max_sequence_length {max_sequence_length} of the encoder",
        ),
    ]
    if num_segments:
        type_range = f"input_type_ids must be in [0, {num_segments})"
        checks += [
            tf.debugging.assert_non_negative(types, message=type_range),
            tf.debugging.assert_less(types, tf.constant(num_segments, types.dtype), message=type_range),
        ]
    with tf.control_dependencies(checks):
        return {name: tf.identity(value) for name, value in inputs.items()}
