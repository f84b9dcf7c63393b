"""The encoder SavedModel as its consumers use it: TF alone, tf_keras + TF Hub, Keras 3, TF Serving's CLI."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import tensorflow as tf

from hubexport.encoders.backbone import EncoderBackbone
from hubexport.savedmodel.encoder_export import encoder_outputs, export_encoder
from tests.support.encoder_inputs import keras_inputs, padded_batch

FAMILIES = ["bert", "roberta", "xlm_roberta", "albert", "electra"]


def keras_reference(model: EncoderBackbone, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    outputs = model(keras_inputs(batch), training=False)
    arrays = {"pooled_output": outputs["pooled_output"].numpy(), "sequence_output": outputs["sequence_output"].numpy()}
    arrays.update({f"encoder_outputs_{i}": t.numpy() for i, t in enumerate(outputs["encoder_outputs"])})
    return arrays


def test_fresh_process_without_hubexport_reproduces_keras(exported_tiny_encoders, tmp_path):
    jobs, expected = [], {}
    for family in FAMILIES:
        exported = exported_tiny_encoders[family]
        config = exported.model.config
        for length in (1, 7, config.max_sequence_length):
            batch = padded_batch(config.vocabulary_size, config.num_segments, length, seed=length)
            key = f"{family}_{length}"
            np.savez(tmp_path / f"{key}_in.npz", **batch)
            jobs.append(
                {
                    "export_dir": str(exported.path),
                    "inputs": str(tmp_path / f"{key}_in.npz"),
                    "outputs": str(tmp_path / f"{key}_out.npz"),
                }
            )
            expected[key] = (
                keras_reference(exported.model, batch),
                batch["input_mask"].astype(bool),
                config.num_layers,
            )
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    script = pathlib.Path(__file__).parent / "support" / "reload_encoder.py"
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "jobs.json")], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "hubexport imported: False" in result.stdout
    for key, (reference, mask, num_layers) in expected.items():
        got = dict(np.load(tmp_path / f"{key}_out.npz"))
        assert sorted(k for k in got if k.startswith("encoder_outputs_")) == sorted(
            f"encoder_outputs_{i}" for i in range(num_layers)
        ), key
        np.testing.assert_allclose(got["pooled_output"], reference["pooled_output"], atol=1e-6, rtol=0, err_msg=key)
        np.testing.assert_array_equal(got["default"], got["pooled_output"])
        for name in ["sequence_output"] + [f"encoder_outputs_{i}" for i in range(num_layers)]:
            np.testing.assert_allclose(
                got[name][mask], reference[name][mask], atol=1e-6, rtol=0, err_msg=f"{key} {name}"
            )
        np.testing.assert_array_equal(got["sequence_output"], got[f"encoder_outputs_{num_layers - 1}"])


def test_hub_keras_layer_fine_tunes_with_dropout_only_in_training(exported_tiny_encoders):
    import tensorflow_hub as hub
    import tf_keras

    exported = exported_tiny_encoders["roberta"]
    config = exported.model.config
    inputs = {
        name: tf_keras.layers.Input(shape=(None,), dtype=tf.int32, name=name)
        for name in ("input_word_ids", "input_mask", "input_type_ids")
    }
    encoder = hub.KerasLayer(str(exported.path), trainable=True)
    pooled = encoder(inputs)["pooled_output"]
    logits = tf_keras.layers.Dense(2)(pooled)
    classifier = tf_keras.Model(inputs, logits)
    assert len(encoder.trainable_weights) == len(exported.model.trainable_weights)

    batch = {k: tf.constant(v) for k, v in padded_batch(config.vocabulary_size, 1, 9).items()}
    inference_a = classifier(batch, training=False).numpy()
    inference_b = classifier(batch, training=False).numpy()
    np.testing.assert_array_equal(inference_a, inference_b)
    assert not np.allclose(classifier(batch, training=True).numpy(), inference_a, atol=1e-6)

    before = [w.numpy().copy() for w in encoder.trainable_weights]
    classifier.compile(
        optimizer=tf_keras.optimizers.SGD(0.5), loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    classifier.train_on_batch(batch, tf.constant([0, 1, 0]))
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, encoder.trainable_weights)]
    assert sum(changed) >= len(changed) // 2, f"only {sum(changed)} of {len(changed)} encoder weights moved"


def test_keras3_tfsmlayer_loads_calls_and_trains(exported_tiny_encoders):
    import keras

    exported = exported_tiny_encoders["electra"]
    config = exported.model.config
    batch = padded_batch(config.vocabulary_size, config.num_segments, 6)
    layer = keras.layers.TFSMLayer(str(exported.path), call_endpoint="serve", call_training_endpoint="serve_training")
    outputs = layer(batch)
    reference = keras_reference(exported.model, batch)
    mask = batch["input_mask"].astype(bool)
    np.testing.assert_allclose(
        np.asarray(outputs["sequence_output"])[mask], reference["sequence_output"][mask], atol=1e-6, rtol=0
    )
    np.testing.assert_allclose(
        np.asarray(outputs["encoder_outputs"][1])[mask], reference["encoder_outputs_1"][mask], atol=1e-6, rtol=0
    )
    assert len(layer.trainable_weights) == len(exported.model.trainable_weights)
    assert not np.allclose(
        np.asarray(layer(batch, training=True)["sequence_output"]), np.asarray(outputs["sequence_output"]), atol=1e-6
    )


def test_saved_model_cli_shows_and_runs_serving_default(exported_tiny_encoders, tmp_path):
    exported = exported_tiny_encoders["bert"]
    config = exported.model.config
    shown = subprocess.run(
        ["saved_model_cli", "show", "--dir", str(exported.path), "--all"], capture_output=True, text=True, check=True
    ).stdout
    assert "signature_def['serving_default']" in shown
    for name in [
        "pooled_output",
        "sequence_output",
        "default",
        "encoder_outputs_0",
        "encoder_outputs_1",
        "input_word_ids",
        "input_mask",
        "input_type_ids",
    ]:
        assert f"['{name}']" in shown, name

    batch = padded_batch(config.vocabulary_size, config.num_segments, 5)
    exprs = ";".join(f"{name}={batch[name].tolist()}" for name in batch)
    subprocess.run(
        [
            "saved_model_cli",
            "run",
            "--dir",
            str(exported.path),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            exprs,
            "--outdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    reference = keras_reference(exported.model, batch)
    mask = batch["input_mask"].astype(bool)
    np.testing.assert_allclose(np.load(tmp_path / "pooled_output.npy"), reference["pooled_output"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        np.load(tmp_path / "encoder_outputs_0.npy")[mask], reference["encoder_outputs_0"][mask], atol=1e-6, rtol=0
    )


def test_albert_stores_shared_groups_once(tmp_path):
    model = EncoderBackbone.from_preset("albert_base_en_uncased", load_weights=False)
    path = export_encoder(model, tmp_path / "albert")
    variable_bytes = sum(f.stat().st_size for f in (path / "variables").iterdir())
    parameters = model.count_params()
    assert variable_bytes <= 1.05 * 4 * parameters, (variable_bytes, parameters)
    loaded = tf.saved_model.load(str(path))
    batch = padded_batch(model.config.vocabulary_size, 2, 8)
    assert len(loaded(batch)["encoder_outputs"]) == model.config.num_layers == 12


def test_mixed_bfloat16_export_stays_close_to_float32(tmp_path):
    float32_model = EncoderBackbone.from_preset(
        "electra_small_discriminator_uncased_en", load_weights=False, num_layers=2, max_sequence_length=64
    )
    bfloat16_model = EncoderBackbone.from_config({**float32_model.get_config(), "dtype": "mixed_bfloat16"})
    bfloat16_model.set_weights(float32_model.get_weights())
    path = export_encoder(bfloat16_model, tmp_path / "bf16")
    loaded = tf.saved_model.load(str(path))
    batch = padded_batch(float32_model.config.vocabulary_size, 2, 32)
    got = loaded(batch)
    reference = encoder_outputs(float32_model, {k: tf.constant(v) for k, v in batch.items()}, training=False)
    assert got["sequence_output"].dtype == tf.float32
    assert all(v.dtype == tf.float32 for v in loaded.variables if v.dtype.is_floating)
    mask = batch["input_mask"].astype(bool)
    difference = np.abs(got["sequence_output"].numpy() - reference["sequence_output"].numpy())[mask]
    # Post-LayerNorm outputs are O(1); bfloat16 keeps 8 bits of mantissa. Measured: max ~0.05, mean ~0.006.
    assert difference.max() < 0.15 and difference.mean() < 0.02, (difference.max(), difference.mean())
    assert difference.max() > 0, "the bfloat16 export computed in float32"
