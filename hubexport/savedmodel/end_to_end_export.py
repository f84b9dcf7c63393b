"""Writes the end-to-end text embedding SavedModel in TF Serving's layout.

`export_end_to_end(encoder, tokenizer, DIR)` writes version `DIR/N/` (N from `serving_version`,
else the next free integer) holding one SavedModel that maps raw strings to `embedding`,
`pooled_output`, `sequence_output` and `input_mask` (see end_to_end_root), plus:

- `assets.extra/tf_serving_warmup_requests`: warm-up requests for both signatures;
- `assets.extra/hubexport.json`: what was exported, from what;
- `README.md`: the model card, with examples that load this very path.

The version is written beside its final place, reloaded, and every warm-up request and the root
call are replayed and compared with the in-memory model before it is moved into place. Then
`DIR/models.config` and `DIR/serving_commands.txt` are (re)written for the model.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any

import numpy as np
import tensorflow as tf

from hubexport.encoders.backbone import EncoderBackbone
from hubexport.preprocess.preprocessor_export import PROBE_TEXTS, build_preprocessor
from hubexport.preprocess.tokenizer import InGraphTokenizer
from hubexport.savedmodel.atomic import check_destination, export_atomically
from hubexport.savedmodel.encoder_export import write_metadata
from hubexport.savedmodel.end_to_end_root import OUTPUT_NAMES, SIGNATURE_INPUTS, build_end_to_end_root
from hubexport.savedmodel.probe_tolerance import ProbeTolerance, probe_tolerance
from hubexport.savedmodel.reusable import ReusableSavedModelRoot
from hubexport.serving import layout, warmup
from hubexport.serving.custom_ops import required_text_ops
from hubexport.serving.model_card import write_model_card
from hubexport.serving.preprocessing_facts import describe_preprocessor


class EndToEndProbeError(RuntimeError):
    """The reloaded end-to-end model does not compute what the exported one does (a hubexport bug)."""


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
) -> EndToEndExport:
    """Writes the text-to-embedding SavedModel as version `serving_version` of model dir `export_dir`."""
    destination, version = layout.resolve_version_dir(export_dir, serving_version)
    check_destination(destination, overwrite)  # fail before the slow tracing, not after
    base_dir, name = destination.parent, layout.model_name(destination.parent)
    preprocessor = build_preprocessor(tokenizer, default_seq_length=default_seq_length, truncation=truncation)
    root, signatures = build_end_to_end_root(encoder_model, preprocessor)
    dtype = encoder_model.dtype_policy.name
    payload = {"export_type": "end_to_end", "dtype": dtype, "encoder_config": encoder_model.config.to_dict(),
               "preprocessing": describe_preprocessor(preprocessor), **(metadata or {})}
    serving = {"model_name": name, "base_dir": str(base_dir), "version": version, "signatures": SIGNATURE_INPUTS}

    def write(staging: pathlib.Path) -> None:
        tf.saved_model.save(root, str(staging), signatures=signatures)
        write_metadata(staging, payload)
        warmup.write_warmup_requests(staging, name, SIGNATURE_INPUTS)
        serving["text_ops"] = sorted(op for ops in required_text_ops(staging).values() for op in ops)
        write_model_card(staging, "end_to_end", {**payload, "export_path": str(destination), "serving": serving})

    def probe(staging: pathlib.Path) -> None:
        probe_end_to_end(staging, root, signatures, probe_tolerance(dtype))

    path = export_atomically(destination, overwrite, write, probe)
    instructions = layout.write_serving_files(base_dir, version, SIGNATURE_INPUTS, serving["text_ops"])
    return EndToEndExport(path, base_dir, version, name, instructions)


def probe_end_to_end(saved_dir: pathlib.Path, root: ReusableSavedModelRoot, signatures: dict[str, Any],
                     tolerance: ProbeTolerance) -> None:
    """Reloads `saved_dir`; replays the warm-up requests and the root call against the in-memory model."""
    loaded = tf.saved_model.load(str(saved_dir))
    texts = tf.constant(PROBE_TEXTS)
    checks = [("__call__", loaded(texts), root.__call__(texts))]
    for signature, inputs in warmup.read_warmup_requests(saved_dir):
        feed = {key: tf.constant(value) for key, value in inputs.items()}
        checks.append((signature, loaded.signatures[signature](**feed), signatures[signature](**feed)))
    for name, got, expected in checks:
        if sorted(got) != sorted(OUTPUT_NAMES):
            raise EndToEndProbeError(f"the saved {name} returns {sorted(got)}, expected {sorted(OUTPUT_NAMES)}")
        if not np.array_equal(got["input_mask"].numpy(), expected["input_mask"].numpy()):
            raise EndToEndProbeError(f"the saved {name} tokenizes differently from the exported model")
        for key in ("embedding", "pooled_output", "sequence_output"):
            mismatch = tolerance.mismatch(got[key].numpy(), expected[key].numpy())
            if mismatch:
                raise EndToEndProbeError(f"the saved {name}'s {key} {mismatch} from the exported model's")
