"""Writes the end-to-end text embedding SavedModel in TF Serving's layout.

`export_end_to_end(encoder, tokenizer, DIR)` writes version `DIR/N/` (N from `serving_version`,
else the next free integer) holding one SavedModel that maps raw strings to `embedding`,
`pooled_output`, `sequence_output` and `input_mask` (see end_to_end_root); with a
`sentence_chain` (a sentence-transformers directory's modules) `embedding` is that chain's; with a
`classifier` head (a Hugging Face classification checkpoint's) the outputs are its logits,
probabilities and labels instead (see classifier_outputs). Beside it:

- `assets.extra/tf_serving_warmup_requests`: warm-up requests for both signatures;
- `assets.extra/hubexport.json`: what was exported, from what (and the chain, under
  `sentence_transformers`, or the head, under `classifier`);
- `README.md`: the model card, with examples that load this very path.

The version is written beside its final place, reloaded, and every warm-up request and the root
call are replayed and compared with the in-memory model before it is moved into place. Then
`DIR/models.config` and `DIR/serving_commands.txt` are (re)written for the model.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import pathlib
from typing import Any

import numpy as np
import tensorflow as tf

from hubexport.checkpoints.hf_classifier_head import ClassifierHeadSpec
from hubexport.checkpoints.sentence_transformers_dir import SentenceTransformersChain
from hubexport.encoders.backbone import EncoderBackbone
from hubexport.encoders.classifier_heads import ClassifierHead
from hubexport.errors import ExportProbeError
from hubexport.model_cards.card import write_model_card
from hubexport.model_cards.preprocessing_facts import describe_preprocessor
from hubexport.preprocess.tokenizers.base import InGraphTokenizer
from hubexport.progress import stage
from hubexport.runtime_options import graph_optimization_off
from hubexport.savedmodel.atomic import check_destination, export_atomically
from hubexport.savedmodel.classifier_outputs import classifier_outputs
from hubexport.savedmodel.encoder_export import export_dtype, save_and_let_go
from hubexport.savedmodel.end_to_end_root import EmbeddingOutputs, TextHead, build_end_to_end_root
from hubexport.savedmodel.int8_quantization import Int8Quantization
from hubexport.savedmodel.int8_text_probe import quantize_on_probe_texts
from hubexport.savedmodel.preprocessor_export import PROBE_TEXTS, build_preprocessor
from hubexport.savedmodel.probe_tolerance import ProbeTolerance, probe_tolerance
from hubexport.savedmodel.reusable import ReusableSavedModelRoot
from hubexport.savedmodel.save_tracing import traced_for_saving
from hubexport.savedmodel.sentence_embedding_head import SentenceEmbeddingHead
from hubexport.serving import layout, warmup
from hubexport.serving.custom_ops import required_text_ops


@dataclasses.dataclass(frozen=True)
class EndToEndExport:
    """Where an end-to-end export went and how to serve it."""

    path: pathlib.Path
    base_dir: pathlib.Path
    version: int
    model_name: str
    serving_instructions: str


def export_end_to_end(
    encoder_model: EncoderBackbone,
    tokenizer: InGraphTokenizer,
    export_dir: str | os.PathLike,
    *,
    serving_version: int | None = None,
    default_seq_length: int = 128,
    truncation: str = "round_robin",
    overwrite: bool = False,
    metadata: dict[str, Any] | None = None,
    int8: Int8Quantization | None = None,
    sentence_chain: SentenceTransformersChain | None = None,
    classifier: ClassifierHead | None = None,
    classifier_spec: ClassifierHeadSpec | None = None,
) -> EndToEndExport:
    """Writes the text-to-embedding SavedModel as version `serving_version` of model dir `export_dir`;
    `embedding` is `sentence_chain`'s pooling, Dense and Normalize modules when given, else the masked mean.
    With `classifier` (and its `classifier_spec`) it writes the text classifier instead.

    The probe's expected outputs are computed first and the model is let go once saved, so a caller
    that handed over its last reference (the CLI) has the weights freed before the probe reloads
    the export.
    """
    destination, version = layout.resolve_version_dir(export_dir, serving_version)
    check_destination(destination, overwrite)  # fail before the slow tracing, not after
    base_dir, name = destination.parent, layout.model_name(destination.parent)
    dtype = encoder_model.dtype_policy.name
    head: TextHead = (
        EmbeddingOutputs(SentenceEmbeddingHead(sentence_chain))
        if classifier is None
        else classifier_outputs(classifier, classifier_spec)
    )
    del classifier
    signature_inputs = head.signature_inputs
    serving = layout.card_facts(name, base_dir, version, signature_inputs, head.output_names)
    with stage("trace end-to-end model"), traced_for_saving():
        preprocessor = build_preprocessor(
            tokenizer,
            default_seq_length=default_seq_length,
            truncation=truncation,
            max_seq_length=encoder_model.config.max_sequence_length,
        )
        quantized = {} if int8 is None else quantize_on_probe_texts(encoder_model, int8, preprocessor, head)
        dtype = export_dtype(encoder_model)
        payload = {
            "export_type": "end_to_end",
            "dtype": dtype,
            "encoder_config": encoder_model.config.to_dict(),
            "preprocessing": describe_preprocessor(preprocessor),
            **quantized,
            **(metadata or {}),
        }
        if sentence_chain is not None:
            sentence_chain.check_fits(encoder_model.config.hidden_dim)
            payload["sentence_transformers"] = sentence_chain.describe(
                default_seq_length, encoder_model.config.hidden_dim
            )
        if classifier_spec is not None:
            payload["classifier"] = classifier_spec.describe()
        # `write` pops it
        unsaved = [build_end_to_end_root(encoder_model, preprocessor, head)]
        del encoder_model, head
        expected = expected_probe_outputs(*unsaved[0], name, signature_inputs)

    def write(staging: pathlib.Path) -> None:
        with stage("save end-to-end model"):
            save_and_let_go(unsaved, staging, payload)
            warmup.write_warmup_requests(staging, name, signature_inputs)
            serving["text_ops"] = sorted(op for ops in required_text_ops(staging).values() for op in ops)
            card = {**payload, "export_path": str(destination), "serving": serving}
            write_model_card(staging, "end_to_end" if classifier_spec is None else "text_classifier", card)

    def probe(staging: pathlib.Path) -> None:
        with stage("probe end-to-end model"):
            gc.collect()  # Keras layers and traced functions form reference cycles: free them before reloading
            probe_end_to_end(staging, expected, probe_tolerance(dtype))

    path = export_atomically(destination, overwrite, write, probe)
    instructions = layout.write_serving_files(base_dir, version, signature_inputs, serving["text_ops"])
    return EndToEndExport(path, base_dir, version, name, instructions)


@dataclasses.dataclass(frozen=True)
class ProbeCall:
    """One call the reloaded export must reproduce: the root call or a warm-up request."""

    name: str  # "__call__" or the signature name
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]


def expected_probe_outputs(
    root: ReusableSavedModelRoot,
    signatures: dict[str, Any],
    model_name: str,
    signature_inputs: dict[str, tuple[str, ...]],
) -> list[ProbeCall]:
    """The in-memory model's outputs for the root call on `PROBE_TEXTS` and for every warm-up
    request (of `signature_inputs`), in the order the warm-up file holds them.

    `serving_default(text)` is the root call with `training=False` (see end_to_end_root), so its
    requests run through the root call's function, which saves instantiating one more function; the
    in-memory functions run unoptimized (graph_optimization_off), since each runs once. The
    reloaded `serving_default` is still checked against these outputs.
    """
    texts = np.array(PROBE_TEXTS, dtype=object)
    in_memory = {**signatures, "serving_default": lambda text: root.__call__(text, training=False)}
    with graph_optimization_off():
        calls = [ProbeCall("__call__", {"texts": texts}, _numpy(root.__call__(tf.constant(texts))))]
        for log in warmup.warmup_requests(model_name, signature_inputs):
            request = log.predict_log.request
            name = request.model_spec.signature_name
            inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
            feed = {key: tf.constant(value) for key, value in inputs.items()}
            calls.append(ProbeCall(name, inputs, _numpy(in_memory[name](**feed))))
    return calls


def probe_end_to_end(saved_dir: pathlib.Path, expected: list[ProbeCall], tolerance: ProbeTolerance) -> None:
    """Reloads `saved_dir`; replays the root call and the warm-up requests it holds and compares them
    with the in-memory model's outputs."""
    loaded = tf.saved_model.load(str(saved_dir))
    root_call, requests = expected[0], expected[1:]
    checks = [(root_call, loaded(tf.constant(root_call.inputs["texts"])))]
    saved_requests = warmup.read_warmup_requests(saved_dir)
    if len(saved_requests) != len(requests):
        raise ExportProbeError(f"the saved warm-up file holds {len(saved_requests)} requests, expected {len(requests)}")
    for call, (signature, inputs) in zip(requests, saved_requests):
        if (
            signature != call.name
            or sorted(inputs) != sorted(call.inputs)
            or not all(np.array_equal(inputs[key], call.inputs[key]) for key in inputs)
        ):
            raise ExportProbeError(
                f"the saved warm-up request for {signature} is not the one the export was checked with"
            )
        feed = {key: tf.constant(value) for key, value in inputs.items()}
        checks.append((call, loaded.signatures[signature](**feed)))
    for call, got in checks:
        check_outputs(call, _numpy(got), tolerance)


def check_outputs(call: ProbeCall, got: dict[str, np.ndarray], tolerance: ProbeTolerance) -> None:
    """Raises ExportProbeError unless the reloaded outputs `got` are `call.outputs`: float outputs within
    `tolerance`, `input_mask` and `offsets` exactly; `label_id` / `label` must be the argmax of the
    reloaded logits (labels of two nearly equal logits may flip within the tolerance)."""
    if sorted(got) != sorted(call.outputs):
        raise ExportProbeError(f"the saved {call.name} returns {sorted(got)}, expected {sorted(call.outputs)}")
    for key in ("input_mask", "offsets"):
        if key in got and not np.array_equal(got[key], call.outputs[key]):
            raise ExportProbeError(f"the saved {call.name} tokenizes differently from the exported model ({key})")
    for key, value in got.items():
        if value.dtype.kind == "f":
            mismatch = tolerance.mismatch(value, call.outputs[key])
            if mismatch:
                raise ExportProbeError(f"the saved {call.name}'s {key} {mismatch} from the exported model's")
    if "label_id" in got:
        argmax = np.argmax(got["logits"], axis=-1)
        real = got["input_mask"] == 1 if "input_mask" in got and argmax.ndim == 2 else np.ones(argmax.shape, bool)
        if not np.array_equal(got["label_id"][real], argmax[real]):
            raise ExportProbeError(f"the saved {call.name}'s label_id is not the argmax of its logits")
        labels = dict(zip(call.outputs["label_id"].ravel().tolist(), call.outputs["label"].ravel().tolist()))
        if any(labels.get(i, label) != label for i, label in zip(got["label_id"].ravel(), got["label"].ravel())):
            raise ExportProbeError(f"the saved {call.name}'s labels differ from the exported model's for one label_id")


def _numpy(outputs: dict[str, tf.Tensor]) -> dict[str, np.ndarray]:
    return {key: value.numpy() for key, value in outputs.items()}
