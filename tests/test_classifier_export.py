"""Hugging Face `*ForSequenceClassification` directories export end to end as what transformers computes.

References are transformers' models and fast tokenizers (tests/fixtures/hf_classifiers.py), never hubexport
code: the imported heads of every family and kind give transformers' logits on padded batches of real
text and pairs, and end-to-end exports of a BERT three-way, a RoBERTa multi-label and an ALBERT binary
classifier give transformers' logits, probabilities and id2label labels from raw strings, through the root
call and both serving signatures. The README's classifier example runs and its export matches transformers too.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (the exports' WordPiece ops, for loading them in this process)

import hubexport
from hubexport.checkpoints.hf_classifier_head import MULTI_LABEL
from hubexport.errors import CheckpointError, ConfigError
from hubexport.model_source import build_encoder
from hubexport.savedmodel.encoder_export import encoder_outputs
from hubexport.serving import warmup
from tests.fixtures.hf_classifiers import EXPORT_SEQ_LENGTH as SEQ_LENGTH
from tests.fixtures.hf_classifiers import FAMILIES, KINDS
from tests.fixtures.preprocessors import text_without_special_tokens
from tests.support.card_examples import python_blocks, run_programs

TOLERANCE = 1e-5
# End-to-end exports of three tokenizer schemes (WordPiece, byte-level BPE, SentencePiece) that together cover
# every sequence head kind; XLM-R's and ELECTRA's heads are checked at import above (their tokenizers, the
# SentencePiece BPE and WordPiece ones, in test_preprocessor_export.py), which keeps this file's exports to three.
EXPORTED = {"bert": "three_way", "roberta": "multi_label", "albert": "binary"}


@pytest.fixture(scope="module")
def texts(parity_lines) -> list[str]:
    """Real lines of mixed length, one longer than SEQ_LENGTH tokens, and an empty text."""
    usable = [line for line in text_without_special_tokens(parity_lines) if line.strip()]
    return usable[:: len(usable) // 12][:12] + [" ".join(usable[:40]), ""]


def hf_logits(case, texts: list[str], pairs: list[str] | None = None, max_length: int = SEQ_LENGTH) -> np.ndarray:
    """transformers' logits for `texts` (and `pairs` as second segments), padded to `max_length`."""
    import torch

    encoded = case.tokenizer(
        texts, pairs, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt"
    )
    with torch.no_grad():
        return case.model(**encoded).logits.numpy()


def expected_probabilities(case, logits: np.ndarray) -> np.ndarray:
    import torch

    tensor = torch.from_numpy(logits)
    if case.model.config.problem_type == MULTI_LABEL or case.model.config.num_labels == 1:
        return torch.sigmoid(tensor).numpy()
    return torch.softmax(tensor, dim=-1).numpy()


def expected_labels(case, logits: np.ndarray) -> list[str]:
    return [case.model.config.id2label[int(index)] for index in np.argmax(logits, axis=-1)]


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind != "token"])
@pytest.mark.parametrize("family", FAMILIES)
def test_imported_sequence_heads_compute_transformers_logits(family, kind, hf_classifier, texts):
    case = hf_classifier(family, kind)
    source = build_encoder(None, None, checkpoint=str(case.path), with_classifier=True)
    assert source.classifier_spec.labels == tuple(KINDS[kind]["id2label"].values())
    halves = texts[::2], texts[1::2][: len(texts[::2])]
    for first, second in ((texts, None), (halves[0], halves[1])):
        encoded = case.tokenizer(first, second, padding="longest", truncation=True, max_length=SEQ_LENGTH)
        ids = np.array(encoded["input_ids"], np.int32)
        inputs = {
            "input_word_ids": tf.constant(ids),
            "input_mask": tf.constant(np.array(encoded["attention_mask"], np.int32)),
            "input_type_ids": tf.constant(np.array(encoded.get("token_type_ids", np.zeros_like(ids)), np.int32)),
        }
        outputs = encoder_outputs(source.model, inputs, training=False)
        logits = source.classifier(outputs["pooled_output"], outputs["sequence_output"]).numpy()
        reference = hf_logits(case, first, second, max_length=SEQ_LENGTH)
        assert np.max(np.abs(logits - reference)) <= TOLERANCE


@pytest.fixture(scope="module")
def exported(classifier_end_to_end):
    """A callable: family -> (case, result, loaded SavedModel) of its end-to-end export (EXPORTED kind)."""
    return lambda family: classifier_end_to_end(family, EXPORTED[family])


def assert_outputs_are_transformers(case, got: dict, reference: np.ndarray) -> None:
    assert sorted(got) == ["label", "label_id", "logits", "probabilities"]
    assert got["logits"].shape == reference.shape
    assert np.max(np.abs(got["logits"].numpy() - reference)) <= TOLERANCE
    assert np.max(np.abs(got["probabilities"].numpy() - expected_probabilities(case, reference))) <= TOLERANCE
    assert got["label_id"].dtype == tf.int64 and got["label"].dtype == tf.string
    assert got["label_id"].numpy().tolist() == np.argmax(reference, axis=-1).tolist()
    assert [label.decode() for label in got["label"].numpy()] == expected_labels(case, reference)


@pytest.mark.parametrize("family", EXPORTED)
def test_end_to_end_classifier_gives_transformers_outputs(family, exported, texts):
    case, _, loaded = exported(family)
    reference = hf_logits(case, texts)
    assert_outputs_are_transformers(case, loaded(tf.constant(texts)), reference)
    assert_outputs_are_transformers(case, loaded.signatures["serving_default"](text=tf.constant(texts)), reference)


@pytest.mark.parametrize("family", EXPORTED)
def test_serving_pair_classifies_text_pairs_as_transformers(family, exported, texts):
    case, _, loaded = exported(family)
    premises, hypotheses = texts[: len(texts) // 2], texts[len(texts) // 2 :][: len(texts) // 2]
    got = loaded.signatures["serving_pair"](text_a=tf.constant(premises), text_b=tf.constant(hypotheses))
    assert_outputs_are_transformers(case, got, hf_logits(case, premises, hypotheses))


def test_labels_and_problem_type_are_recorded(exported):
    case, result, _ = exported("roberta")
    metadata = json.loads((result.path / "assets.extra" / "hubexport.json").read_text())
    assert metadata["classifier"]["labels"] == ["sports", "politics", "science", "arts"]
    assert metadata["classifier"]["problem_type"] == MULTI_LABEL
    assert metadata["classifier"]["probabilities"] == "sigmoid"
    card = (result.path / "README.md").read_text()
    assert "<!-- task: text-classification -->" in card
    assert "0: `sports`, 1: `politics`, 2: `science`, 3: `arts`" in card
    assert "a sigmoid per label" in card
    assert "`logits`, `probabilities`, `label_id`, `label`" in card
    assert "sequence classifier (4 labels)" in result.summary
    requests = warmup.read_warmup_requests(result.path)
    assert sorted({signature for signature, _ in requests}) == ["serving_default", "serving_pair"]
    assert (result.path.parent / "models.config").is_file() and (result.path.parent / "serving_commands.txt").is_file()


def test_regression_heads_and_bad_id2label_are_refused(hf_classifier, tmp_path):
    source = hf_classifier("bert", "binary").path
    for name, change, message in (
        ("regression", {"problem_type": "regression"}, "problem_type='regression' is not supported"),
        ("gap", {"id2label": {"0": "a", "2": "b"}}, "id2label keys must be 0 .. 1"),
    ):
        directory = tmp_path / name
        shutil.copytree(source, directory)
        config = json.loads((directory / "config.json").read_text())
        (directory / "config.json").write_text(json.dumps({**config, **change}))
        with pytest.raises(ConfigError, match=message):
            hubexport.export(export_type="end_to_end", checkpoint=str(directory), export_dir=str(tmp_path / "out"))
        assert not (tmp_path / "out").exists()


def test_a_classifier_needs_a_classification_checkpoint(hf_cases):
    with pytest.raises(CheckpointError, match="has no classification head"):
        build_encoder(None, None, checkpoint=str(hf_cases["bert_model_bin"].path), with_classifier=True)
    with pytest.raises(ConfigError, match="needs --checkpoint"):
        build_encoder("bert_base_en_uncased", None, with_classifier=True)


def test_the_readme_classifier_example_runs_and_matches_transformers(tmp_path):
    import torch
    import transformers

    root = pathlib.Path(__file__).resolve().parents[1]
    example = re.search(r"<!-- classifier-example -->\s*```python\n(.*?)```", (root / "README.md").read_text(), re.S)
    assert example, "README.md lacks the <!-- classifier-example --> python block"
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "-c", example.group(1)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    texts = ["What a great day.", "Not good at all."]
    model = transformers.BertForSequenceClassification.from_pretrained(str(tmp_path / "sentiment_model")).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "sentiment_model"))
    with torch.no_grad():
        reference = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.numpy()
    loaded = tf.saved_model.load(str(tmp_path / "exports" / "sentiment" / "1"))
    got = loaded.signatures["serving_default"](text=tf.constant(texts))
    assert np.max(np.abs(got["logits"].numpy() - reference)) <= TOLERANCE
    labels = [model.config.id2label[int(index)] for index in np.argmax(reference, axis=-1)]
    assert [label.decode() for label in got["label"].numpy()] == labels
    assert str(np.array([label.encode() for label in labels])) in completed.stdout


def test_every_python_example_of_the_classifier_cards_runs(classifier_end_to_end):
    cards = {
        kind: (classifier_end_to_end("bert", kind)[1].path / "README.md").read_text() for kind in ("three_way", "token")
    }
    programs = [(f"{kind}[{i}]", block) for kind, card in cards.items() for i, block in enumerate(python_blocks(card))]
    assert len(programs) == 3 + 3
    completed, results, modules = run_programs(programs)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert modules == []  # the exports load with TensorFlow, tf.text and TF Hub alone
    assert not {name: error for name, error, _ in results if error}
    printed = {name: output for name, _, output in results}
    assert all(printed.values())
    assert any(label in printed["three_way[0]"] for label in ("negative", "neutral", "positive"))
