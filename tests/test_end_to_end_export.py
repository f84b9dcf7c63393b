"""The end-to-end text embedding SavedModel, checked against its parts and against Hugging Face.

Exports come from tests/fixtures/end_to_end.py (one per family, tokenizer sources deleted).
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from hubexport.savedmodel.end_to_end_root import OUTPUT_NAMES
from tests.fixtures.end_to_end import E2E_HIDDEN, E2E_SEQ_LENGTH
from tests.fixtures.preprocessors import text_without_special_tokens

FAMILIES = ["wordpiece", "roberta"]


@pytest.fixture(scope="module")
def lines(parity_lines) -> list[str]:
    """About 120 lines spread over the parity set (plain text, CJK, hard cases) plus an empty one."""
    usable = text_without_special_tokens(parity_lines)
    return usable[:: max(len(usable) // 120, 1)] + [""]


def masked_mean(sequence_output: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """numpy reference of the embedding: the mean over the positions where mask is 1."""
    weights = mask.astype(np.float64)[:, :, None]
    return (sequence_output * weights).sum(axis=1) / weights.sum(axis=1)


def hf_packed(hf, first, second=None) -> dict[str, np.ndarray]:
    """Hugging Face's packing of one or two segments under TF Hub's input names."""
    encoded = hf(
        first, second, truncation=True, max_length=E2E_SEQ_LENGTH, padding="max_length", return_token_type_ids=True
    )
    return {
        "input_word_ids": np.array(encoded["input_ids"], np.int32),
        "input_mask": np.array(encoded["attention_mask"], np.int32),
        "input_type_ids": np.array(encoded["token_type_ids"], np.int32),
    }


def keras_reference(model, packed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The in-memory Keras encoder on Hugging Face's packing, and the numpy mean-pooled embedding."""
    outputs = model(
        {
            "token_ids": packed["input_word_ids"],
            "padding_mask": packed["input_mask"],
            "segment_ids": packed["input_type_ids"],
        },
        training=False,
    )
    sequence = np.asarray(outputs["sequence_output"])
    return {
        "sequence_output": sequence,
        "pooled_output": np.asarray(outputs["pooled_output"]),
        "input_mask": packed["input_mask"],
        "embedding": masked_mean(sequence, packed["input_mask"]),
    }


def assert_outputs_close(got, expected, tolerance: float) -> None:
    """Equal outputs at real positions; `sequence_output` is exactly zero at padded ones."""
    assert sorted(got) == sorted(OUTPUT_NAMES)
    mask = expected["input_mask"].astype(bool)
    np.testing.assert_array_equal(np.asarray(got["input_mask"]), expected["input_mask"])
    for name in ("embedding", "pooled_output"):
        np.testing.assert_allclose(np.asarray(got[name]), expected[name], rtol=0, atol=tolerance, err_msg=name)
    sequence = np.asarray(got["sequence_output"])
    assert sequence.shape == expected["sequence_output"].shape
    np.testing.assert_allclose(
        sequence[mask],
        expected["sequence_output"][mask],
        rtol=0,
        atol=tolerance,
        err_msg="sequence_output at real positions",
    )
    assert not np.any(sequence[~mask]), "sequence_output must be zero at padded positions"


@pytest.mark.parametrize("family", FAMILIES)
def test_end_to_end_matches_hugging_face_tokenizer_then_keras_encoder(
    family, end_to_end_case, loaded_end_to_end, lines
):
    case, loaded = end_to_end_case(family), loaded_end_to_end(family)
    single = keras_reference(case.model, hf_packed(case.hf_tokenizer, lines))
    assert_outputs_close(loaded(tf.constant(lines)), single, 1e-5)
    assert_outputs_close(loaded.signatures["serving_default"](text=tf.constant(lines)), single, 1e-5)
    pair = keras_reference(case.model, hf_packed(case.hf_tokenizer, lines, lines[::-1]))
    assert pair["input_mask"].sum() > single["input_mask"].sum()
    got_pair = loaded.signatures["serving_pair"](text_a=tf.constant(lines), text_b=tf.constant(lines[::-1]))
    assert_outputs_close(got_pair, pair, 1e-5)
    assert_outputs_close(
        loaded.serve_pair({"text_a": tf.constant(lines), "text_b": tf.constant(lines[::-1])}), pair, 1e-5
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_end_to_end_equals_separate_preprocessor_and_encoder_exports(family, end_to_end_case, loaded_end_to_end, lines):
    case, loaded = end_to_end_case(family), loaded_end_to_end(family)
    preprocessor = tf.saved_model.load(str(case.preprocessor_dir))
    encoder = tf.saved_model.load(str(case.encoder_dir))
    texts, reverse = tf.constant(lines), tf.constant(lines[::-1])
    tokens, reverse_tokens = preprocessor.tokenize(texts), preprocessor.tokenize(reverse)
    for got, packed in (
        (loaded(texts), preprocessor.bert_pack_inputs([tokens], seq_length=E2E_SEQ_LENGTH)),
        (
            loaded.signatures["serving_pair"](text_a=texts, text_b=reverse),
            preprocessor.bert_pack_inputs([tokens, reverse_tokens], seq_length=E2E_SEQ_LENGTH),
        ),
    ):
        separate = encoder(packed, training=False)
        mask = packed["input_mask"].numpy()
        expected = {
            "sequence_output": separate["sequence_output"].numpy(),
            "input_mask": mask,
            "pooled_output": separate["pooled_output"].numpy(),
            "embedding": masked_mean(separate["sequence_output"].numpy(), mask),
        }
        assert_outputs_close(got, expected, 1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_signatures_endpoints_and_shapes(family, end_to_end_case, loaded_end_to_end):
    hf, loaded = end_to_end_case(family).hf_tokenizer, loaded_end_to_end(family)
    assert sorted(loaded.signatures) == ["serving_default", "serving_pair"]
    for name, inputs in (("serving_default", ["text"]), ("serving_pair", ["text_a", "text_b"])):
        _, keyword_inputs = loaded.signatures[name].structured_input_signature
        assert {key: (spec.dtype, spec.shape.as_list()) for key, spec in keyword_inputs.items()} == {
            key: (tf.string, [None]) for key in inputs
        }
        outputs = {
            key: (spec.dtype, spec.shape.as_list()) for key, spec in loaded.signatures[name].structured_outputs.items()
        }
        assert outputs == {
            "embedding": (tf.float32, [None, E2E_HIDDEN]),
            "pooled_output": (tf.float32, [None, E2E_HIDDEN]),
            "sequence_output": (tf.float32, [None, E2E_SEQ_LENGTH, E2E_HIDDEN]),
            "input_mask": (tf.int32, [None, E2E_SEQ_LENGTH]),
        }
    texts = tf.constant(["one text", "another, longer text"])
    training_off = loaded.serve(texts)["embedding"].numpy()
    np.testing.assert_array_equal(loaded(texts, training=False)["embedding"].numpy(), training_off)
    assert not np.allclose(loaded.serve_training(texts)["embedding"].numpy(), training_off)  # dropout is on
    assert (
        loaded.preprocessor.tokenize(texts).to_list()
        == hf(["one text", "another, longer text"], add_special_tokens=False)["input_ids"]
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_encoder_variables_are_stored_once(family, end_to_end_case, loaded_end_to_end):
    case, loaded = end_to_end_case(family), loaded_end_to_end(family)
    unique = {id(variable.value): variable.value for variable in case.model.variables}
    checkpoint = tf.train.list_variables(str(case.export.path / "variables" / "variables"))
    stored = [name for name, _ in checkpoint if name != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert len(stored) == len(unique)
    model_size = sum(int(np.prod(v.shape)) * v.dtype.size for v in unique.values())
    data_size = (case.export.path / "variables" / "variables.data-00000-of-00001").stat().st_size
    assert model_size <= data_size < 1.05 * model_size
    assert {id(v) for v in loaded.variables} == {id(v) for v in loaded.encoder.variables}
    assert len(loaded.trainable_variables) == len(case.model.trainable_variables)


def test_saved_model_holds_no_tokenizer_source_path(end_to_end_case):
    for family in FAMILIES:
        case = end_to_end_case(family)
        assert not case.deleted_tokenizer_dir.exists()
        saved_model = (case.export.path / "saved_model.pb").read_bytes()
        assert str(case.deleted_tokenizer_dir).encode() not in saved_model
        assert b"hubexport-tokenizer-" not in saved_model


def test_fine_tuning_through_hub_keras_layer_updates_the_encoder(end_to_end_case):
    import tensorflow_hub as hub
    import tf_keras

    path = str(end_to_end_case("wordpiece").export.path)
    text_input = tf_keras.layers.Input(shape=(), dtype=tf.string)
    embedder = hub.KerasLayer(path, trainable=True)
    logits = tf_keras.layers.Dense(1)(embedder(text_input)["embedding"])
    model = tf_keras.Model(text_input, logits)
    model.compile(optimizer=tf_keras.optimizers.SGD(0.1), loss=tf_keras.losses.MeanSquaredError())
    before = [v.numpy().copy() for v in embedder.trainable_variables]
    assert len(before) > 10
    model.fit(
        tf.constant(["good movie", "bad movie", "great", "awful"]),
        tf.constant([1.0, 0.0, 1.0, 0.0]),
        epochs=1,
        verbose=0,
    )
    changed = sum(not np.array_equal(b, v.numpy()) for b, v in zip(before, embedder.trainable_variables))
    assert changed > len(before) // 2


def test_saved_model_cli_run_returns_the_same_embeddings(end_to_end_case, loaded_end_to_end, tmp_path):
    """The byte-level BPE graph uses core TensorFlow ops only, so the stock saved_model_cli runs it
    (a WordPiece graph needs tf.text's FastWordpiece op, which saved_model_cli does not load)."""
    path, loaded = end_to_end_case("roberta").export.path, loaded_end_to_end("roberta")
    sentences = ["The quick brown fox jumps.", "", "Ünïcödé and 中文 text, with digits 12,345."]
    completed = subprocess.run(
        [
            "saved_model_cli",
            "run",
            "--dir",
            str(path),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            f"text={json.dumps(sentences, ensure_ascii=False)}",
            "--outdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    expected = loaded.signatures["serving_default"](text=tf.constant(sentences))
    for name in ("embedding", "pooled_output", "input_mask"):
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"), expected[name].numpy(), rtol=0, atol=1e-5)
