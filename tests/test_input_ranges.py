"""Inputs the encoder cannot take fail loudly, naming the input and its valid range: token and type ids
in every encoder signature (Hugging Face refuses both too, instead of silently reading another row), and
sequence lengths beyond the encoder's positions in exports that pair a preprocessor with an encoder."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import hubexport
from hubexport.errors import ConfigError
from tests.fixtures.encoders import TINY

VOCABULARY = TINY["vocabulary_size"]
POSITIONS = TINY["max_sequence_length"]
_LOADED: dict[str, object] = {}


def loaded_encoder(exported_tiny_encoders, family: str):
    if family not in _LOADED:
        _LOADED[family] = tf.saved_model.load(str(exported_tiny_encoders[family].path))
    return _LOADED[family]


def encoder_inputs(ids: list[int], types: list[int] | None = None) -> dict[str, tf.Tensor]:
    return {
        "input_word_ids": tf.constant([ids], tf.int32),
        "input_mask": tf.ones([1, len(ids)], tf.int32),
        "input_type_ids": tf.constant([types or [0] * len(ids)], tf.int32),
    }


def every_signature(loaded) -> dict[str, object]:
    """Each way a loaded encoder is called: the restored call, the Keras 3 endpoints, the serving signature."""
    return {
        "__call__": lambda inputs: loaded(inputs, training=False),
        "serve": loaded.serve,
        "serve_training": loaded.serve_training,
        "serving_default": lambda inputs: loaded.signatures["serving_default"](**inputs),
    }


def test_hugging_face_refuses_out_of_range_ids_too():
    config = transformers.BertConfig(
        vocab_size=VOCABULARY,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=POSITIONS,
    )
    model = transformers.BertModel(config).eval()
    for bad in (-1, VOCABULARY):
        with pytest.raises(IndexError):
            model(input_ids=torch.tensor([[1, bad, 3]]))
    with pytest.raises(IndexError):
        model(input_ids=torch.tensor([[1, 2, 3]]), token_type_ids=torch.tensor([[0, 2, 0]]))


@pytest.mark.parametrize("family", ["bert", "roberta", "xlm_roberta", "albert", "electra"])
@pytest.mark.parametrize("bad_id", [-1, VOCABULARY, 2**31 - 1])
def test_out_of_range_token_ids_fail_in_every_signature(exported_tiny_encoders, family, bad_id):
    loaded = loaded_encoder(exported_tiny_encoders, family)
    for call in every_signature(loaded).values():
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=re.escape(f"input_word_ids must be in [0, {VOCABULARY})")
        ):
            call(encoder_inputs([1, bad_id, 3]))
    assert np.isfinite(loaded(encoder_inputs([0, VOCABULARY - 1]), training=False)["pooled_output"].numpy()).all()


@pytest.mark.parametrize("family, segments", [("bert", 2), ("roberta", 1), ("albert", 2)])
def test_out_of_range_type_ids_fail(exported_tiny_encoders, family, segments):
    loaded = loaded_encoder(exported_tiny_encoders, family)
    for bad in (-1, segments):
        for call in every_signature(loaded).values():
            with pytest.raises(
                tf.errors.InvalidArgumentError, match=re.escape(f"input_type_ids must be in [0, {segments})")
            ):
                call(encoder_inputs([1, 2, 3], [0, bad, 0]))


def test_more_positions_than_the_encoder_has_fail(exported_tiny_encoders):
    loaded = loaded_encoder(exported_tiny_encoders, "bert")
    loaded(encoder_inputs([1] * POSITIONS), training=False)
    for call in every_signature(loaded).values():
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=f"more positions than max_sequence_length {POSITIONS} of the encoder"
        ):
            call(encoder_inputs([1] * (POSITIONS + 1)))


def test_the_mlm_signature_checks_ids_too(tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"family": "bert", **TINY}))
    result = hubexport.export_encoder_with_mlm(config_file=config, export_dir=tmp_path / "mlm", seed=3)
    mlm = tf.saved_model.load(str(result.path)).signatures["mlm"]
    inputs = {**encoder_inputs([1, -5, 3]), "masked_lm_positions": tf.constant([[1]], tf.int32)}
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(f"input_word_ids must be in [0, {VOCABULARY})")):
        mlm(**inputs)


def test_a_combined_export_refuses_pack_lengths_beyond_the_encoders_positions(end_to_end_case, loaded_end_to_end):
    case = end_to_end_case("wordpiece")
    positions = case.model.config.max_sequence_length
    preprocessor = loaded_end_to_end("wordpiece").preprocessor
    tokens = preprocessor.tokenize(tf.constant(["a short text", "another one"]))
    assert preprocessor.bert_pack_inputs([tokens], seq_length=positions)["input_word_ids"].shape == (2, positions)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=f"seq_length exceeds max_sequence_length {positions} of the encoder"
    ):
        preprocessor.bert_pack_inputs([tokens], seq_length=positions + 1)


@pytest.mark.parametrize("export_type", ["both", "end_to_end"])
def test_a_default_seq_length_beyond_the_encoders_positions_is_refused(tmp_path, minilm_tokenizer_dir, export_type):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"family": "bert", **TINY, "vocabulary_size": 30522}))
    with pytest.raises(ConfigError, match=f"--default_seq_length {POSITIONS + 1} exceeds the encoder's {POSITIONS}"):
        hubexport.export(
            export_type=export_type,
            config_file=config,
            tokenizer=minilm_tokenizer_dir,
            export_dir=tmp_path / "out",
            default_seq_length=POSITIONS + 1,
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tiny.json"]
