"""Hugging Face checkpoints exported as SavedModels compute what transformers (PyTorch) computes.

For every case of `tests/fixtures/hf_models.py`: each encoder_outputs[i] against HF
hidden_states[i + 1], sequence_output and pooled_output within 1e-5 on non-pad tokens of a batch
with right padding, left padding and two segments; MLM logits within 1e-4 of the HF *ForMaskedLM /
*ForPreTraining head. Reference: the live torch model the checkpoint was saved from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
import tensorflow as tf

from hubexport.checkpoints.weight_assignment import CheckpointWarning
from hubexport.model_source import EncoderSource, build_encoder
from hubexport.savedmodel.encoder_export import METADATA_FILE, export_encoder
from hubexport.savedmodel.mlm_export import export_encoder_with_mlm
from tests.fixtures.hf_models import CASE_NAMES, MASKED_POSITIONS, hf_reference, padded_hf_batch

ENCODER_TOLERANCE = 1e-5
MLM_TOLERANCE = 1e-4
MLM_CASES = [name for name in CASE_NAMES if name.endswith(("_mlm", "_pretraining", "_generator"))]


@dataclasses.dataclass
class HfExport:
    source: EncoderSource
    path: pathlib.Path
    warnings: list[str]
    loaded: object

    @property
    def metadata(self) -> dict:
        return json.loads((self.path / "assets.extra" / METADATA_FILE).read_text())


@pytest.fixture(scope="session")
def hf_exports(hf_cases, tmp_path_factory):
    """name -> its export (encoder, or encoder_with_mlm for cases with an LM head), made on first use."""
    root = tmp_path_factory.mktemp("hf_exports")
    cache: dict[str, HfExport] = {}

    def get(name: str) -> HfExport:
        if name not in cache:
            case = hf_cases[name]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CheckpointWarning)
                source = build_encoder(None, None, checkpoint=str(case.path), with_mlm=case.with_mlm)
            if case.with_mlm:
                path = export_encoder_with_mlm(source.model, source.mlm_head, root / name, metadata=source.metadata)
            else:
                path = export_encoder(source.model, root / name, metadata=source.metadata)
            messages = [str(w.message) for w in caught if issubclass(w.category, CheckpointWarning)]
            cache[name] = HfExport(source, path, messages, tf.saved_model.load(str(path)))
        return cache[name]

    return get


def batch_for(case) -> dict[str, np.ndarray]:
    return padded_hf_batch(case.model.config.vocab_size, case.pad_token_id, case.num_segments)


def max_difference(got, expected, mask: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(got) - np.asarray(expected))[mask]))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_exported_encoder_matches_transformers(name, hf_cases, hf_exports):
    case, exported = hf_cases[name], hf_exports(name)
    batch = batch_for(case)
    reference = hf_reference(case.model, batch, with_mlm=False)
    got = exported.loaded({k: tf.constant(v) for k, v in batch.items()})
    mask = batch["input_mask"].astype(bool)

    assert len(got["encoder_outputs"]) == case.model.config.num_hidden_layers
    for index, layer_output in enumerate(got["encoder_outputs"]):
        assert max_difference(layer_output, reference["hidden_states"][index + 1], mask) <= ENCODER_TOLERANCE, index
    assert max_difference(got["sequence_output"], reference["hidden_states"][-1], mask) <= ENCODER_TOLERANCE
    policy = exported.metadata["pooled_output"]["policy"]
    if "pooled_output" in reference:
        assert policy == "dense_tanh"
        expected_pooled = reference["pooled_output"]
    else:
        assert policy == "first_token"
        expected_pooled = reference["hidden_states"][-1][:, 0]
    assert np.max(np.abs(got["pooled_output"].numpy() - expected_pooled)) <= ENCODER_TOLERANCE


def test_pooled_output_policy_per_family(hf_exports):
    policies = {name: hf_exports(name).metadata["pooled_output"]["policy"] for name in CASE_NAMES}
    assert policies == {
        "bert_pretraining": "dense_tanh",
        "bert_model_bin": "dense_tanh",
        "roberta_mlm": "first_token",
        "roberta_model": "dense_tanh",
        "roberta_classifier": "first_token",
        "xlm_roberta_mlm": "first_token",
        "albert_pretraining": "dense_tanh",
        "electra_generator": "first_token",
        "electra_discriminator": "first_token",
    }
    assert "ELECTRA" in hf_exports("electra_discriminator").metadata["pooled_output"]["reason"]


@pytest.mark.parametrize("name", MLM_CASES)
def test_exported_mlm_logits_match_transformers(name, hf_cases, hf_exports):
    case, exported = hf_cases[name], hf_exports(name)
    batch = batch_for(case)
    reference = hf_reference(case.model, batch, with_mlm=True)["mlm_logits"]
    inputs = {**{k: tf.constant(v) for k, v in batch.items()}, "masked_lm_positions": tf.constant(MASKED_POSITIONS)}
    logits = exported.loaded.mlm(inputs)["mlm_logits"].numpy()
    assert logits.shape == (3, MASKED_POSITIONS.shape[1], case.model.config.vocab_size)
    assert np.max(np.abs(logits - reference)) <= MLM_TOLERANCE
    flat = exported.loaded.signatures["mlm"](**inputs)
    assert np.max(np.abs(flat["mlm_logits"].numpy() - reference)) <= MLM_TOLERANCE
    assert exported.metadata["export_type"] == "encoder_with_mlm"


@pytest.mark.parametrize("name", ["bert_pretraining", "albert_pretraining", "electra_generator"])
def test_mlm_output_matrix_is_the_token_embedding_variable(name, hf_cases, hf_exports):
    case, exported = hf_cases[name], hf_exports(name)
    config = exported.source.model.config
    assert exported.source.mlm_head.token_embedding.embeddings is exported.source.model.token_embedding.embeddings
    loaded = tf.saved_model.load(str(exported.path))  # a private copy: this test changes a variable
    table_shape = (config.vocabulary_size, config.resolved_embedding_dim)
    tables = [v for v in loaded.variables if tuple(v.shape) == table_shape]
    assert len(tables) == 1
    # Zeroing the one table must leave only the output bias in the logits: mlm reads that variable.
    tables[0].assign(tf.zeros(table_shape))
    batch = batch_for(case)
    inputs = {**{k: tf.constant(v) for k, v in batch.items()}, "masked_lm_positions": tf.constant(MASKED_POSITIONS)}
    logits = loaded.mlm(inputs)["mlm_logits"].numpy()
    bias = exported.source.mlm_head.output_bias.numpy()
    np.testing.assert_allclose(logits, np.broadcast_to(bias, logits.shape), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "name, listed",
    [
        ("roberta_classifier", ["classifier.dense.weight", "classifier.out_proj.weight"]),
        ("bert_pretraining", ["cls.seq_relationship.weight", "cls.seq_relationship.bias"]),
        ("electra_discriminator", ["discriminator_predictions.dense.weight"]),
    ],
)
def test_task_model_heads_are_listed_in_one_warning(name, listed, hf_exports):
    messages = hf_exports(name).warnings
    assert len(messages) == 1, messages
    for tensor in listed:
        assert repr(tensor) in messages[0]


def test_base_model_checkpoint_warns_about_nothing(hf_exports):
    assert hf_exports("bert_model_bin").warnings == []
    assert hf_exports("roberta_model").warnings == []


def test_cli_exports_encoder_with_mlm_from_a_checkpoint(hf_cases, tmp_path):
    case = hf_cases["electra_generator"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hubexport.export_main",
            "--export_type=encoder_with_mlm",
            f"--checkpoint={case.path}",
            f"--export_dir={tmp_path / 'out'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    batch = batch_for(case)
    reference = hf_reference(case.model, batch, with_mlm=True)
    loaded = tf.saved_model.load(str(tmp_path / "out"))
    got = loaded.mlm(
        {**{k: tf.constant(v) for k, v in batch.items()}, "masked_lm_positions": tf.constant(MASKED_POSITIONS)}
    )
    assert np.max(np.abs(got["mlm_logits"].numpy() - reference["mlm_logits"])) <= MLM_TOLERANCE
    metadata = json.loads((tmp_path / "out" / "assets.extra" / METADATA_FILE).read_text())
    assert metadata["export_type"] == "encoder_with_mlm"
    assert metadata["pooled_output"]["policy"] == "first_token"
    assert metadata["mlm_head"]["output_matrix"] == "tied to the token embedding"


@pytest.mark.parametrize("safetensors", [True, False])
def test_sharded_checkpoint_gives_the_same_weights(safetensors, hf_cases, hf_exports, tmp_path):
    case = hf_cases["bert_pretraining"]
    case.model.save_pretrained(tmp_path, max_shard_size="20KB", safe_serialization=safetensors)
    index = "model.safetensors.index.json" if safetensors else "pytorch_model.bin.index.json"
    assert (tmp_path / index).is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CheckpointWarning)
        sharded = build_encoder(None, None, checkpoint=str(tmp_path), with_mlm=True)
    whole = hf_exports("bert_pretraining").source
    for got, expected in zip(
        sharded.model.weights + sharded.mlm_head.weights, whole.model.weights + whole.mlm_head.weights
    ):
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=got.path)
