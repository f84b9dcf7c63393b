"""Encoder SavedModel with a masked-LM head (`--export_type=encoder_with_mlm`), as Model Garden's
`model_with_mlm`.

The root is the encoder SavedModel (`build_encoder_root`) plus an `mlm` tf.function: it takes the
three encoder inputs and `masked_lm_positions` (int32 [batch, positions]) and returns the encoder
outputs plus `mlm_logits` ([batch, positions, vocab], float32). The serving signature `mlm` returns
the same, flattened. A tied output matrix is the token embedding variable itself, saved once.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np
import tensorflow as tf

from hubexport.encoders.backbone import EncoderBackbone
from hubexport.encoders.mlm_head import MaskedLMHead
from hubexport.errors import ExportProbeError
from hubexport.progress import stage
from hubexport.savedmodel.encoder_export import (
    ProbeExpectation,
    build_encoder_root,
    check_reloaded,
    encoder_outputs,
    probe_expectation,
    probe_inputs,
    save_and_probe,
)
from hubexport.savedmodel.probe_tolerance import ProbeTolerance, probe_tolerance
from hubexport.savedmodel.save_tracing import traced_for_saving
from hubexport.savedmodel.signatures import encoder_input_specs, flatten_outputs

POSITIONS = "masked_lm_positions"


def mlm_input_specs() -> dict[str, tf.TensorSpec]:
    """The encoder input specs plus `masked_lm_positions`."""
    return {**encoder_input_specs(), POSITIONS: tf.TensorSpec([None, None], tf.int32, name=POSITIONS)}


def mlm_outputs(
    model: EncoderBackbone, head: MaskedLMHead, inputs: dict[str, tf.Tensor], training: bool
) -> dict[str, Any]:
    """Encoder outputs and the LM logits at `masked_lm_positions`."""
    outputs = encoder_outputs(model, inputs, training)
    logits = head(outputs["sequence_output"], inputs[POSITIONS])
    return {**outputs, "mlm_logits": tf.cast(logits, tf.float32)}


def build_mlm_root(model: EncoderBackbone, head: MaskedLMHead) -> tuple[Any, dict[str, Any]]:
    """The encoder root with `mlm` attached, and its signatures (`serving_default`, `mlm`)."""
    root, signatures = build_encoder_root(model, extra_models=(head,))
    specs = mlm_input_specs()

    @tf.function
    def mlm(inputs, training=False):
        return mlm_outputs(model, head, inputs, training)

    for training in (False, True):
        mlm.get_concrete_function(specs, training=training)
    root.mlm = mlm

    @tf.function(input_signature=[specs[name] for name in specs])
    def mlm_signature(input_word_ids, input_mask, input_type_ids, masked_lm_positions):
        inputs = {
            "input_word_ids": input_word_ids,
            "input_mask": input_mask,
            "input_type_ids": input_type_ids,
            POSITIONS: masked_lm_positions,
        }
        return flatten_outputs(mlm(inputs, training=False))

    return root, {**signatures, "mlm": mlm_signature.get_concrete_function()}


@dataclasses.dataclass(frozen=True)
class MlmProbeExpectation:
    """What a reloaded MLM export must reproduce: the encoder's probe and the Keras head's logits."""

    encoder: ProbeExpectation
    inputs: dict[str, np.ndarray]  # the encoder probe inputs plus masked_lm_positions
    mlm_logits: np.ndarray


def mlm_probe_expectation(model: EncoderBackbone, head: MaskedLMHead, tolerance: ProbeTolerance) -> MlmProbeExpectation:
    """Runs the Keras model and head on the probe batch; the export is later checked against this."""
    inputs = probe_inputs(model.config.vocabulary_size, model.config.num_segments)
    inputs[POSITIONS] = np.array([[0, 3], [2, 6], [1, 5]], dtype=np.int32)
    tensors = {name: tf.constant(value) for name, value in inputs.items()}
    logits = mlm_outputs(model, head, tensors, training=False)["mlm_logits"].numpy()
    return MlmProbeExpectation(probe_expectation(model, tolerance), inputs, logits)


def check_reloaded_mlm(export_dir: pathlib.Path, expectation: MlmProbeExpectation) -> None:
    """Reloads the export and checks the encoder and `mlm` (also the signature) reproduce
    `expectation`."""
    loaded = check_reloaded(export_dir, expectation.encoder)
    tensors = {name: tf.constant(value) for name, value in expectation.inputs.items()}
    got = loaded.mlm(tensors, training=False)["mlm_logits"].numpy()
    expected = expectation.mlm_logits
    mismatch = expectation.encoder.tolerance.mismatch(got, expected, scale=max(1.0, float(np.max(np.abs(expected)))))
    if mismatch:
        raise ExportProbeError(f"reloaded mlm_logits {mismatch}")
    flat = loaded.signatures["mlm"](**tensors)
    if "mlm_logits" not in flat:
        raise ExportProbeError("the mlm signature lacks mlm_logits")


def export_encoder_with_mlm(
    model: EncoderBackbone,
    head: MaskedLMHead,
    export_dir: str | pathlib.Path,
    *,
    overwrite: bool = False,
    metadata: dict[str, Any] | None = None,
) -> pathlib.Path:
    """Writes `model` + `head` as an encoder SavedModel with `mlm`, atomically, and probes it.

    As `export_encoder`: the probe's expected outputs are computed first and the model and head are
    let go once saved, so a caller that handed over its last references has the weights freed
    before the probe reloads the export.
    """
    dtype = model.dtype_policy.name
    spec = head.spec
    payload = {
        "export_type": "encoder_with_mlm",
        "dtype": dtype,
        "encoder_config": model.config.to_dict(),
        "mlm_head": {
            "activation": spec.activation,
            "layer_norm_epsilon": spec.layer_norm_epsilon,
            "output_matrix": "tied to the token embedding" if spec.tied else "separate",
        },
        **(metadata or {}),
    }
    expectation = mlm_probe_expectation(model, head, probe_tolerance(dtype))
    with stage("trace encoder and masked-LM head"), traced_for_saving():
        unsaved = [build_mlm_root(model, head)]  # `write` pops it, so after saving no reference is left here
    del model, head
    return save_and_probe(
        unsaved,
        export_dir,
        overwrite=overwrite,
        payload=payload,
        what="encoder and masked-LM head",
        check_reloaded=lambda staging: check_reloaded_mlm(staging, expectation),
        with_card=False,
    )
