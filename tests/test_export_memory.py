"""An encoder export (with or without the MLM head) and an end-to-end export hold the weights once: a model handed to it
(as `hubexport.export` and the CLI do) is freed before the probe reloads the SavedModel. The peak RSS itself is measured by `python -m bench.export`."""

from __future__ import annotations

import json
import weakref

import pytest
import tensorflow as tf

import hubexport
from hubexport.encoders import RobertaBackbone
from hubexport.model_source import build_encoder
from hubexport.savedmodel import encoder_export, mlm_export
from hubexport.serving import end_to_end_export
from tests.fixtures.encoders import TINY
from tests.fixtures.end_to_end import tiny_encoder


def record_model_alive_at_reload(monkeypatch, module, model_user: str, check_name: str) -> list[bool]:
    """Records, at each probe reload of `module`'s export, whether the model that `model_user` (a
    function of `module` taking the model first) was given is still alive."""
    models: list[weakref.ref] = []
    alive: list[bool] = []
    use, check = getattr(module, model_user), getattr(module, check_name)

    def recording_use(model, *args):
        models.append(weakref.ref(model))
        return use(model, *args)

    def recording_check(*args):
        alive.append(models[-1]() is not None)
        return check(*args)

    monkeypatch.setattr(module, model_user, recording_use)
    monkeypatch.setattr(module, check_name, recording_check)
    return alive


@pytest.fixture
def model_alive_at_reload(monkeypatch) -> list[bool]:
    """`record_model_alive_at_reload` for the encoder export."""
    return record_model_alive_at_reload(monkeypatch, encoder_export, "probe_expectation", "check_reloaded")


@pytest.fixture
def mlm_model_alive_at_reload(monkeypatch) -> list[bool]:
    """`record_model_alive_at_reload` for the encoder-with-MLM export."""
    return record_model_alive_at_reload(monkeypatch, mlm_export, "mlm_probe_expectation", "check_reloaded_mlm")


@pytest.fixture
def end_to_end_model_alive_at_reload(monkeypatch) -> list[bool]:
    """`record_model_alive_at_reload` for the end-to-end export."""
    return record_model_alive_at_reload(monkeypatch, end_to_end_export, "build_end_to_end_root", "probe_end_to_end")


def test_export_frees_a_handed_over_model_before_the_reload(model_alive_at_reload, tmp_path):
    encoder_export.export_encoder(RobertaBackbone(**TINY), tmp_path / "export")
    assert model_alive_at_reload == [False]


def test_a_model_the_caller_keeps_stays_usable(model_alive_at_reload, tmp_path):
    model = RobertaBackbone(**TINY)
    encoder_export.export_encoder(model, tmp_path / "export")
    assert model_alive_at_reload == [True]
    assert model(RobertaBackbone._dummy_inputs())["sequence_output"].shape == (1, 2, TINY["hidden_dim"])


def test_export_hands_its_checkpoint_model_to_the_export(model_alive_at_reload, hf_cases, tmp_path):
    hubexport.export(
        export_type="encoder", checkpoint=str(hf_cases["roberta_model"].path), export_dir=str(tmp_path / "out")
    )
    assert model_alive_at_reload == [False]


def test_export_hands_its_model_and_mlm_head_to_the_export(mlm_model_alive_at_reload, hf_cases, tmp_path):
    hubexport.export(
        export_type="encoder_with_mlm", checkpoint=str(hf_cases["roberta_mlm"].path), export_dir=str(tmp_path / "out")
    )
    assert mlm_model_alive_at_reload == [False]


def test_an_mlm_model_the_caller_keeps_stays_usable(mlm_model_alive_at_reload, hf_cases, tmp_path):
    source = build_encoder(None, None, checkpoint=str(hf_cases["roberta_mlm"].path), with_mlm=True)
    mlm_export.export_encoder_with_mlm(source.model, source.mlm_head, tmp_path / "export")
    assert mlm_model_alive_at_reload == [True]
    outputs = source.model(RobertaBackbone._dummy_inputs())
    assert source.mlm_head(outputs["sequence_output"], tf.constant([[0]])).shape[:2] == (1, 1)


def test_export_hands_its_model_to_the_end_to_end_export(
    end_to_end_model_alive_at_reload, minilm_tokenizer_dir, tmp_path
):
    config = tmp_path / "tiny_bert.json"
    config.write_text(json.dumps(tiny_encoder("wordpiece", 30522).config.to_dict()))
    hubexport.export(
        export_type="end_to_end",
        config_file=str(config),
        tokenizer=str(minilm_tokenizer_dir),
        export_dir=str(tmp_path / "out"),
        default_seq_length=32,
    )
    assert end_to_end_model_alive_at_reload == [False]
