"""Encoder SavedModel: a Keras encoder traced into TF Hub's reusable encoder contract.

The root is callable as `__call__(inputs, training=False)` with the three int32 inputs and returns
`pooled_output`, `sequence_output`, `encoder_outputs` (one per layer) and `default`; it carries
`variables`, `trainable_variables` and `regularization_losses` for `hub.KerasLayer(trainable=True)`.
`serving_default` returns the same tensors flattened. For Keras 3's `TFSMLayer`, which calls an
endpoint with one positional dict, `serve` and `serve_training` are that call with `training` fixed.
Loading needs TensorFlow only.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from hubexport.encoders.backbone import EncoderBackbone
from hubexport.errors import ExportProbeError
from hubexport.model_cards.card import write_model_card
from hubexport.progress import stage
from hubexport.savedmodel.atomic import export_atomically
from hubexport.savedmodel.int8_quantization import Int8Quantization, quantize_checked
from hubexport.savedmodel.probe_tolerance import ProbeTolerance, probe_tolerance
from hubexport.savedmodel.reusable import ReusableSavedModelRoot
from hubexport.savedmodel.save_tracing import traced_for_saving
from hubexport.savedmodel.signatures import checked_encoder_inputs, encoder_input_specs, flatten_outputs
from hubexport.version import __version__

METADATA_FILE = "hubexport.json"


def encoder_outputs(model: EncoderBackbone, inputs: dict[str, tf.Tensor], training: bool) -> dict[str, Any]:
    """Runs the Keras encoder on TF-Hub-named inputs, checked against the encoder's ranges
    (`checked_encoder_inputs`); outputs are float32 whatever the compute dtype."""
    config = model.config
    inputs = checked_encoder_inputs(
        inputs,
        vocabulary_size=config.vocabulary_size,
        num_segments=config.num_segments,
        max_sequence_length=config.max_sequence_length,
    )
    outputs = model(
        {
            "token_ids": inputs["input_word_ids"],
            "padding_mask": inputs["input_mask"],
            "segment_ids": inputs["input_type_ids"],
        },
        training=training,
    )
    as_float32 = lambda tensor: tf.cast(tensor, tf.float32)  # noqa: E731
    pooled = as_float32(outputs["pooled_output"])
    return {
        "pooled_output": pooled,
        "sequence_output": as_float32(outputs["sequence_output"]),
        "encoder_outputs": [as_float32(t) for t in outputs["encoder_outputs"]],
        "default": pooled,
    }


def build_encoder_root(
    model: EncoderBackbone, extra_models: Sequence[keras.layers.Layer] = ()
) -> tuple[ReusableSavedModelRoot, dict[str, Any]]:
    """The SavedModel root for `model` and its signatures (`serving_default`).

    `extra_models` (e.g. an MLM head) have their variables saved on the root too, for functions
    that callers attach to it.
    """
    root = ReusableSavedModelRoot(model, extra_models)
    specs = encoder_input_specs()

    @tf.function
    def call(inputs, training=False):
        return encoder_outputs(model, inputs, training)

    for training in (False, True):
        call.get_concrete_function(specs, training=training)
    root.__call__ = call
    root.serve = tf.function(lambda inputs: call(inputs, training=False), input_signature=[specs])
    root.serve_training = tf.function(lambda inputs: call(inputs, training=True), input_signature=[specs])

    @tf.function(input_signature=[specs[name] for name in specs])
    def serving_default(input_word_ids, input_mask, input_type_ids):
        inputs = {"input_word_ids": input_word_ids, "input_mask": input_mask, "input_type_ids": input_type_ids}
        return flatten_outputs(call(inputs, training=False))

    return root, {"serving_default": serving_default.get_concrete_function()}


def write_metadata(export_dir: pathlib.Path, payload: dict[str, Any]) -> None:
    """Writes `assets.extra/hubexport.json`: what was exported, from what, by which version."""
    extra = export_dir / "assets.extra"
    extra.mkdir(exist_ok=True)
    (extra / METADATA_FILE).write_text(
        json.dumps({"hubexport_version": __version__, **payload}, indent=2, sort_keys=True) + "\n"
    )


def save_and_let_go(unsaved: list, staging: pathlib.Path, payload: dict[str, Any]) -> None:
    """Saves the (root, signatures) pair that `unsaved` holds, popping it so that the model the root references
    can be freed once saved, and writes the export metadata (`write_metadata`) beside it."""
    root, signatures = unsaved.pop()
    tf.saved_model.save(root, str(staging), signatures=signatures)
    write_metadata(staging, payload)


def save_and_probe(
    unsaved: list,
    export_dir: str | pathlib.Path,
    *,
    overwrite: bool,
    payload: dict[str, Any],
    what: str,
    check_reloaded: Callable[[pathlib.Path], None],
    with_card: bool = True,
) -> pathlib.Path:
    """Saves the traced (root, signatures) pair `unsaved` holds into `export_dir` atomically: writes it,
    its metadata and (`with_card`) its encoder model card in staging, then probes the reloaded staging
    with `check_reloaded` before moving it into place. `what` names the stages ("save <what>", ...).

    The pair is popped once saved, so a caller that let go of its model has the weights freed
    before the probe reloads the export.
    """

    def write(staging: pathlib.Path) -> None:
        with stage(f"save {what}"):
            save_and_let_go(unsaved, staging, payload)
            if with_card:
                write_model_card(
                    staging, "encoder", {**payload, "export_path": str(pathlib.Path(export_dir).absolute())}
                )

    def probe(staging: pathlib.Path) -> None:
        with stage(f"probe {what}"):
            gc.collect()  # Keras layers and traced functions form reference cycles: free them before reloading
            check_reloaded(staging)

    return export_atomically(export_dir, overwrite, write, probe)


def probe_inputs(vocabulary_size: int, num_segments: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A padded batch of 3 (right padding, left padding, full) for checking an export."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocabulary_size, size=(3, 7)).astype(np.int32)
    mask = np.array([[1, 1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1, 1], [1] * 7], dtype=np.int32)
    types = (rng.integers(0, max(num_segments, 1), size=(3, 7)) * mask).astype(np.int32)
    return {"input_word_ids": ids * mask, "input_mask": mask, "input_type_ids": types}


@dataclasses.dataclass(frozen=True)
class ProbeExpectation:
    """What a reloaded export must reproduce: the Keras model's outputs on `probe_inputs`."""

    inputs: dict[str, np.ndarray]
    sequence_output: np.ndarray
    num_layers: int
    tolerance: ProbeTolerance


def export_dtype(model: EncoderBackbone) -> str:
    """The dtype an export of `model` records: "int8" once quantized, else its Keras dtype policy's name."""
    return "int8" if model.is_int8 else model.dtype_policy.name


def quantize_on_probe(model: EncoderBackbone, request: Int8Quantization) -> dict[str, Any]:
    """Quantizes `model` to int8 (`quantize_checked`), measured on the probe batch's real tokens; returns the
    metadata an int8 export records (its deviation from float32, and that it is not fine-tunable)."""
    inputs = probe_inputs(model.config.vocabulary_size, model.config.num_segments)
    real = inputs["input_mask"].astype(bool)
    feed = {key: tf.constant(value) for key, value in inputs.items()}
    deviation = quantize_checked(
        model,
        request,
        lambda: encoder_outputs(model, feed, training=False)["sequence_output"].numpy()[real],
        output="sequence_output",
        measured_on=f"the {int(real.sum())} tokens of the probe batch (random ids)",
    )
    return {"int8": deviation.describe(), "fine_tunable": False}


def probe_expectation(model: EncoderBackbone, tolerance: ProbeTolerance) -> ProbeExpectation:
    """Runs the Keras model on the probe batch; the export is later checked against this."""
    inputs = probe_inputs(model.config.vocabulary_size, model.config.num_segments)
    expected = encoder_outputs(model, {k: tf.constant(v) for k, v in inputs.items()}, training=False)
    return ProbeExpectation(inputs, expected["sequence_output"].numpy(), model.config.num_layers, tolerance)


def check_reloaded(export_dir: pathlib.Path, expectation: ProbeExpectation) -> Any:
    """Reloads the export, checks it reproduces `expectation` (also through `serving_default`) and
    returns the loaded object, for callers that check more of it."""
    loaded = tf.saved_model.load(str(export_dir))
    inputs = expectation.inputs
    got = loaded(inputs, training=False)
    if len(got["encoder_outputs"]) != expectation.num_layers:
        raise ExportProbeError(f"{len(got['encoder_outputs'])} encoder_outputs, expected {expectation.num_layers}")
    mask = inputs["input_mask"].astype(bool)
    mismatch = expectation.tolerance.mismatch(got["sequence_output"].numpy()[mask], expectation.sequence_output[mask])
    if mismatch:
        raise ExportProbeError(f"reloaded sequence_output {mismatch}")
    flat = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
    if f"encoder_outputs_{expectation.num_layers - 1}" not in flat:
        raise ExportProbeError("serving_default lacks the flat encoder_outputs")
    return loaded


def export_encoder(
    model: EncoderBackbone,
    export_dir: str | pathlib.Path,
    *,
    overwrite: bool = False,
    metadata: dict[str, Any] | None = None,
    int8: Int8Quantization | None = None,
) -> pathlib.Path:
    """Writes `model` as an encoder SavedModel at `export_dir`, atomically, and probes it; with `int8`, the
    float32 `model` is quantized first (a serving export: see `int8_quantization`).

    The probe's expected outputs are computed first and this function lets go of `model` once it is
    saved, so a caller that passed its last reference (the CLI) has the model's weights freed before
    the probe reloads the export: the weights are never held twice.
    """
    quantized = {} if int8 is None else quantize_on_probe(model, int8)
    dtype = export_dtype(model)
    payload = {
        "export_type": "encoder",
        "dtype": dtype,
        "encoder_config": model.config.to_dict(),
        **quantized,
        **(metadata or {}),
    }
    expectation = probe_expectation(model, probe_tolerance(dtype))
    with stage("trace encoder"), traced_for_saving():
        unsaved = [build_encoder_root(model)]  # `write` pops it, so after saving no reference to the model is left
    del model
    return save_and_probe(
        unsaved,
        export_dir,
        overwrite=overwrite,
        payload=payload,
        what="encoder",
        check_reloaded=lambda staging: check_reloaded(staging, expectation),
    )
