"""`--export_type=encoder_with_classifier`: the TF-Hub encoder plus `classify` computes what transformers'
classification models compute, and fine-tunes through `hub.KerasLayer` like the encoder.

References are transformers' models and tokenizers (tests/fixtures/hf_classifiers.py). One export through
the Python API (a RoBERTa three-way sequence classifier) and one through the command line (a BERT token
classifier).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import hubexport
from tests.fixtures.preprocessors import text_without_special_tokens

TOLERANCE = 1e-5
SEQ_LENGTH = 40


@pytest.fixture(scope="module")
def texts(parity_lines) -> list[str]:
    usable = [line for line in text_without_special_tokens(parity_lines) if line.strip()]
    return usable[:: len(usable) // 8][:8]


def encoded(case, texts: list[str], pairs: list[str] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The packed inputs (our names, padded to the longest row) and transformers' logits on them."""
    import torch

    batch = case.tokenizer(texts, pairs, padding="longest", truncation=True, max_length=SEQ_LENGTH)
    ids = np.array(batch["input_ids"], np.int32)
    inputs = {
        "input_word_ids": ids,
        "input_mask": np.array(batch["attention_mask"], np.int32),
        "input_type_ids": np.array(batch.get("token_type_ids", np.zeros_like(ids)), np.int32),
    }
    with torch.no_grad():
        logits = case.model(
            input_ids=torch.from_numpy(ids).long(), attention_mask=torch.from_numpy(inputs["input_mask"]).long()
        ).logits.numpy()
    return inputs, logits


@pytest.fixture(scope="module")
def roberta_export(hf_classifier, tmp_path_factory):
    case = hf_classifier("roberta", "three_way")
    result = hubexport.export(
        export_type="encoder_with_classifier",
        checkpoint=case.path,
        export_dir=tmp_path_factory.mktemp("roberta_with_classifier") / "export",
    )
    return case, result, tf.saved_model.load(str(result.path))


def test_classify_gives_transformers_logits_and_labels(roberta_export, texts):
    case, _, loaded = roberta_export
    for first, second in ((texts, None), (texts[:4], texts[4:])):
        inputs, reference = encoded(case, first, second)
        for got in (
            loaded.classify({key: tf.constant(value) for key, value in inputs.items()}, training=False),
            loaded.signatures["classify"](**{key: tf.constant(value) for key, value in inputs.items()}),
        ):
            assert np.max(np.abs(got["logits"].numpy() - reference)) <= TOLERANCE
            softmax = np.exp(reference) / np.exp(reference).sum(axis=-1, keepdims=True)
            assert np.max(np.abs(got["probabilities"].numpy() - softmax)) <= TOLERANCE
            expected = [case.model.config.id2label[int(i)] for i in np.argmax(reference, axis=-1)]
            assert [label.decode() for label in got["label"].numpy()] == expected
        outputs = loaded(inputs, training=False)  # the root is still the TF-Hub encoder
        assert sorted(outputs) == ["default", "encoder_outputs", "pooled_output", "sequence_output"]


def test_metadata_and_card_name_the_head(roberta_export):
    _, result, _ = roberta_export
    metadata = json.loads((result.path / "assets.extra" / "hubexport.json").read_text())
    assert metadata["export_type"] == "encoder_with_classifier"
    assert metadata["classifier"]["labels"] == ["negative", "neutral", "positive"]
    card = (result.path / "README.md").read_text()
    assert "`RobertaForSequenceClassification` head" in card and "0: `negative`" in card
    assert "sequence classifier head (3 labels)" in result.summary


def test_classify_fine_tunes_through_hub_keras_layer(roberta_export, texts):
    import tensorflow_hub as hub
    import tf_keras

    case, _, loaded = roberta_export
    inputs, _ = encoded(case, texts)
    layer = hub.KerasLayer(loaded.classify, trainable=True)
    specs = {name: tf_keras.layers.Input(shape=(None,), dtype=tf.int32, name=name) for name in inputs}
    model = tf_keras.Model(specs, layer(specs)["logits"])
    assert len(model.trainable_weights) == len(loaded.classify.trainable_variables)
    head_kernel = next(v for v in model.trainable_weights if tuple(v.shape) == (32, 3))  # out_proj
    embedding = next(v for v in model.trainable_weights if tuple(v.shape) == (len(case.tokenizer), 32))
    before = [head_kernel.numpy(), embedding.numpy(), model(inputs).numpy()]
    model.compile(optimizer=tf_keras.optimizers.SGD(0.5), loss=tf_keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(inputs, np.arange(len(texts)) % 3, epochs=1, verbose=0)
    after = [head_kernel.numpy(), embedding.numpy(), model(inputs).numpy()]
    assert all(not np.allclose(b, a) for b, a in zip(before, after))


def test_cli_exports_a_token_classifier(hf_classifier, texts, tmp_path):
    case = hf_classifier("bert", "token")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "hubexport.export_main", "--export_type=encoder_with_classifier"]
    completed = subprocess.run(
        [*command, f"--checkpoint={case.path}", f"--export_dir={tmp_path / 'token'}"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "token classifier head (5 labels)" in completed.stdout
    loaded = tf.saved_model.load(str(tmp_path / "token"))
    inputs, reference = encoded(case, texts)
    got = loaded.signatures["classify"](**{key: tf.constant(value) for key, value in inputs.items()})
    real = inputs["input_mask"] == 1
    assert got["logits"].shape == reference.shape
    assert np.max(np.abs(got["logits"].numpy()[real] - reference[real])) <= TOLERANCE
    labels = np.array([[case.model.config.id2label[int(i)] for i in row] for row in np.argmax(reference, axis=-1)])
    assert (got["label"].numpy().astype(str)[real] == labels[real]).all()
    assert (got["label_id"].numpy()[~real] == -1).all() and (got["label"].numpy()[~real] == b"").all()

    refused = subprocess.run([*command, f"--export_dir={tmp_path / 'none'}"], capture_output=True, text=True, env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "hubexport: error: a classifier export needs --checkpoint: a Hugging Face classification model directory"
    )
    assert not (tmp_path / "none").exists()
