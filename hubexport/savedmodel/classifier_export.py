"""Encoder SavedModel with the checkpoint's classifier head (`--export_type=encoder_with_classifier`).

The root is the encoder SavedModel (`build_encoder_root`: TF Hub's encoder contract, fine-tunable) plus
`classify`, a callable object that takes the three int32 encoder inputs and returns `logits`,
`probabilities`, `label_id` and `label` (see classifier_outputs; token heads: per token, `label_id` -1 and
`label` "" at padding). `classify` carries `variables`, `trainable_variables` and `regularization_losses`
(the encoder's and the head's, the same variables the root saves once), so
`hub.KerasLayer(loaded.classify, trainable=True)` fine-tunes encoder and head together. The serving
signature `classify` returns the same outputs from the flat inputs.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np
import tensorflow as tf

from hubexport.checkpoints.hf_classifier_head import ClassifierHeadSpec
from hubexport.encoders.backbone import EncoderBackbone
from hubexport.encoders.classifier_heads import ClassifierHead
from hubexport.errors import ExportProbeError
from hubexport.progress import stage
from hubexport.savedmodel.classifier_outputs import classification_outputs
from hubexport.savedmodel.encoder_export import (
    ProbeExpectation,
    build_encoder_root,
    check_reloaded,
    encoder_outputs,
    probe_expectation,
    save_and_probe,
)
from hubexport.savedmodel.probe_tolerance import probe_tolerance
from hubexport.savedmodel.reusable import ReusableSavedModelRoot
from hubexport.savedmodel.save_tracing import traced_for_saving
from hubexport.savedmodel.signatures import ENCODER_INPUT_NAMES, encoder_input_specs

CLASSIFY = "classify"


def classify_outputs(
    model: EncoderBackbone,
    head: ClassifierHead,
    spec: ClassifierHeadSpec,
    inputs: dict[str, tf.Tensor],
    training: bool,
) -> dict[str, tf.Tensor]:
    """The head's logits, probabilities and labels on the encoder's outputs for `inputs`."""
    outputs = encoder_outputs(model, inputs, training)
    logits = head(outputs["pooled_output"], outputs["sequence_output"], training=training)
    return classification_outputs(logits, spec, inputs["input_mask"] if spec.task == "token" else None)


def build_classifier_root(
    model: EncoderBackbone, head: ClassifierHead, spec: ClassifierHeadSpec
) -> tuple[ReusableSavedModelRoot, dict[str, Any]]:
    """The encoder root with `classify` attached, and its signatures (`serving_default`, `classify`)."""
    root, signatures = build_encoder_root(model, extra_models=(head,))
    specs = encoder_input_specs()

    @tf.function
    def classify(inputs, training=False):
        return classify_outputs(model, head, spec, inputs, training)

    for training in (False, True):
        classify.get_concrete_function(specs, training=training)
    root.classify = ReusableSavedModelRoot(model, extra_models=(head,))
    root.classify.__call__ = classify

    @tf.function(input_signature=[specs[name] for name in ENCODER_INPUT_NAMES])
    def classify_signature(input_word_ids, input_mask, input_type_ids):
        inputs = {"input_word_ids": input_word_ids, "input_mask": input_mask, "input_type_ids": input_type_ids}
        return classify(inputs, training=False)

    return root, {**signatures, CLASSIFY: classify_signature.get_concrete_function()}


@dataclasses.dataclass(frozen=True)
class ClassifierProbeExpectation:
    """What a reloaded classifier export must reproduce: the encoder's probe and the head's outputs."""

    encoder: ProbeExpectation
    outputs: dict[str, np.ndarray]


def check_reloaded_classifier(export_dir: pathlib.Path, expectation: ClassifierProbeExpectation) -> None:
    """Reloads the export; checks the encoder, `classify` and the `classify` signature reproduce
    `expectation` (logits and probabilities within the tolerance, label_id / label the argmax of the
    reloaded logits)."""
    loaded = check_reloaded(export_dir, expectation.encoder)
    tensors = {name: tf.constant(value) for name, value in expectation.encoder.inputs.items()}
    for name, got in (
        ("classify", loaded.classify(tensors, training=False)),
        ("the classify signature", loaded.signatures[CLASSIFY](**tensors)),
    ):
        if sorted(got) != sorted(expectation.outputs):
            raise ExportProbeError(f"{name} returns {sorted(got)}, expected {sorted(expectation.outputs)}")
        for key in ("logits", "probabilities"):
            mismatch = expectation.encoder.tolerance.mismatch(got[key].numpy(), expectation.outputs[key])
            if mismatch:
                raise ExportProbeError(f"reloaded {name}'s {key} {mismatch}")
        argmax = np.argmax(got["logits"].numpy(), axis=-1)
        real = expectation.outputs["label_id"] >= 0
        if not np.array_equal(got["label_id"].numpy()[real], argmax[real]):
            raise ExportProbeError(f"reloaded {name}'s label_id is not the argmax of its logits")


def export_encoder_with_classifier(
    model: EncoderBackbone,
    head: ClassifierHead,
    spec: ClassifierHeadSpec,
    export_dir: str | pathlib.Path,
    *,
    overwrite: bool = False,
    metadata: dict[str, Any] | None = None,
) -> pathlib.Path:
    """Writes `model` + `head` as an encoder SavedModel with `classify`, atomically, and probes it.

    As `export_encoder`: the probe's expected outputs are computed first and the model and head are let
    go once saved, so a caller that handed over its last references has the weights freed before the
    probe reloads the export.
    """
    dtype = model.dtype_policy.name
    payload = {
        "export_type": "encoder_with_classifier",
        "dtype": dtype,
        "encoder_config": model.config.to_dict(),
        "classifier": spec.describe(),
        **(metadata or {}),
    }
    encoder = probe_expectation(model, probe_tolerance(dtype))
    tensors = {name: tf.constant(value) for name, value in encoder.inputs.items()}
    outputs = {key: value.numpy() for key, value in classify_outputs(model, head, spec, tensors, False).items()}
    expectation = ClassifierProbeExpectation(encoder, outputs)
    with stage("trace encoder and classifier head"), traced_for_saving():
        unsaved = [build_classifier_root(model, head, spec)]  # `write` pops it, so after saving no reference is left
    del model, head
    return save_and_probe(
        unsaved,
        export_dir,
        overwrite=overwrite,
        payload=payload,
        what="encoder and classifier head",
        check_reloaded=lambda staging: check_reloaded_classifier(staging, expectation),
    )
