"""Writes a tokenizer's TF-Hub-style preprocessor SavedModel, atomically and probed.

The SavedModel holds a `PreprocessorModule` (see there for its API) with the signatures
`serving_default` (text) and `serving_pair` (text_a, text_b). Before it is moved into place it is
reloaded and every entry point is run and compared with the in-memory module, so an export that
cannot be served never replaces a working one.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import tensorflow as tf

from hubexport.errors import ExportProbeError
from hubexport.model_cards.card import write_model_card
from hubexport.model_cards.preprocessing_facts import describe_preprocessor
from hubexport.preprocess.preprocessor_module import PreprocessorModule
from hubexport.preprocess.tokenizers.base import InGraphTokenizer
from hubexport.progress import stage
from hubexport.runtime_options import graph_optimization_off
from hubexport.savedmodel.atomic import check_destination, export_atomically
from hubexport.savedmodel.encoder_export import write_metadata
from hubexport.savedmodel.save_tracing import traced_for_saving

PROBE_TEXTS = ("Hello, world! This is a probe.", "", "Ünïcödé wörds, 中文 and digits 12,345.")
PROBE_SEQ_LENGTH = 7


def build_preprocessor(
    tokenizer: InGraphTokenizer,
    *,
    default_seq_length: int = 128,
    truncation: str = "round_robin",
    max_seq_length: int | None = None,
) -> PreprocessorModule:
    """The module an export saves; reusable by exports that combine it with an encoder.

    `max_seq_length` is the positions of the encoder it feeds (None: not exported for one).
    """
    return PreprocessorModule(
        tokenizer, default_seq_length=default_seq_length, truncation=truncation, max_seq_length=max_seq_length
    )


def export_preprocessor(
    tokenizer: InGraphTokenizer,
    export_dir: str | os.PathLike,
    *,
    default_seq_length: int = 128,
    truncation: str = "round_robin",
    max_seq_length: int | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Saves the preprocessor for `tokenizer` to `export_dir` and returns its absolute path.

    `max_seq_length`: the positions of the encoder exported beside it, if any (see PreprocessorModule).
    """
    check_destination(export_dir, overwrite)  # fail before the slow tracing, not after
    with stage("trace preprocessor"), traced_for_saving():
        module = build_preprocessor(
            tokenizer, default_seq_length=default_seq_length, truncation=truncation, max_seq_length=max_seq_length
        )
        signatures = module.serving_signatures()
        preprocessing = describe_preprocessor(module)

    def write(staging: pathlib.Path) -> None:
        with stage("save preprocessor"):
            tf.saved_model.save(module, str(staging), signatures=signatures)
            write_metadata(staging, {"export_type": "preprocessor", "preprocessing": preprocessing})
            write_model_card(
                staging,
                "preprocessor",
                {"preprocessing": preprocessing, "export_path": str(pathlib.Path(export_dir).absolute())},
            )

    def probe(staging: pathlib.Path) -> None:
        with stage("probe preprocessor"):
            probe_preprocessor(module, staging)

    return export_atomically(export_dir, overwrite, write, probe)


def probe_preprocessor(module: PreprocessorModule, saved_dir: pathlib.Path) -> None:
    """Reloads `saved_dir` and runs its entry points; raises if one differs from `module`.

    Expected values come from `module.tokenize` (unoptimized: it runs once) plus eager packing.
    `serving_default` (the root call's function) and `tokenize` (called inside the root call) are
    covered by the root call: each first call of a loaded function pays for graph optimization,
    which is slow for large tokenizer graphs.
    """
    texts = tf.constant(PROBE_TEXTS)
    with graph_optimization_off():  # the in-memory functions run once: not worth optimizing
        tokens = module.tokenize(texts)
        segments = [tokens, tokens[::-1], tokens]
        expected = {
            "__call__": module.pack([tokens], module.default_seq_length),
            "serving_pair": module.pack([tokens, tokens[::-1]], module.default_seq_length),
            "tokenize_with_offsets ids": tokens,
            "bert_pack_inputs": module.pack(segments, PROBE_SEQ_LENGTH),
            "detokenize": module.detokenize(tokens),
            "get_special_tokens_dict": {
                name: tf.constant(value, tf.int32) for name, value in module.special_tokens_values().items()
            },
        }
    loaded = tf.saved_model.load(str(saved_dir))
    got = {
        "__call__": loaded(texts),
        "serving_pair": loaded.signatures["serving_pair"](text_a=texts, text_b=texts[::-1]),
        "tokenize_with_offsets ids": loaded.tokenize_with_offsets(texts)[0],
        "bert_pack_inputs": loaded.bert_pack_inputs(segments, seq_length=PROBE_SEQ_LENGTH),
        "detokenize": loaded.detokenize(tokens),
        "get_special_tokens_dict": loaded.get_special_tokens_dict(),
    }
    for name in expected:
        if not _same(got[name], expected[name]):
            raise ExportProbeError(f"the saved preprocessor's {name} differs from the exported module's")


def _same(got, expected) -> bool:
    """Equality of two nests (dicts, tuples or lists) of tensors and ragged tensors."""
    try:
        tf.nest.assert_same_structure(got, expected, check_types=False)
    except (ValueError, TypeError):
        return False
    return all(_equal(a, b) for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(expected)))


def _equal(got, expected) -> bool:
    """Same dtype and same values, for dense or ragged tensors."""
    if got.dtype != expected.dtype or isinstance(got, tf.RaggedTensor) != isinstance(expected, tf.RaggedTensor):
        return False
    if isinstance(got, tf.RaggedTensor):
        return got.to_list() == expected.to_list()
    return np.array_equal(got.numpy(), expected.numpy())
