"""An encoder export holds the weights once: a model handed to it (as the CLI does) is freed before
the probe reloads the SavedModel. The peak RSS itself is measured by `python -m bench.export`."""
from __future__ import annotations

import weakref

import pytest
from absl.testing import flagsaver

from hubexport import export_main
from hubexport.encoders import RobertaBackbone
from hubexport.savedmodel import encoder_export
from tests.fixtures.encoders import TINY


@pytest.fixture
def model_alive_at_reload(monkeypatch) -> list[bool]:
    """Records, at each probe reload, whether the model the probe expectation came from is alive."""
    models: list[weakref.ref] = []
    alive: list[bool] = []
    expectation, check = encoder_export.probe_expectation, encoder_export.check_reloaded

    def recording_expectation(model, tolerance):
        models.append(weakref.ref(model))
        return expectation(model, tolerance)

    def recording_check(export_dir, probe_expectation):
        alive.append(models[-1]() is not None)
        check(export_dir, probe_expectation)

    monkeypatch.setattr(encoder_export, "probe_expectation", recording_expectation)
    monkeypatch.setattr(encoder_export, "check_reloaded", recording_check)
    return alive


def test_export_frees_a_handed_over_model_before_the_reload(model_alive_at_reload, tmp_path):
    encoder_export.export_encoder(RobertaBackbone(**TINY), tmp_path / "export")
    assert model_alive_at_reload == [False]


def test_a_model_the_caller_keeps_stays_usable(model_alive_at_reload, tmp_path):
    model = RobertaBackbone(**TINY)
    encoder_export.export_encoder(model, tmp_path / "export")
    assert model_alive_at_reload == [True]
    assert model(RobertaBackbone._dummy_inputs())["sequence_output"].shape == (1, 2, TINY["hidden_dim"])


def test_cli_hands_its_checkpoint_model_to_the_export(model_alive_at_reload, hf_cases, tmp_path):
    if not export_main.FLAGS.is_parsed():
        export_main.FLAGS(["hubexport"])
    with flagsaver.flagsaver(export_type="encoder", checkpoint=str(hf_cases["roberta_model"].path),
                             export_dir=str(tmp_path / "out")):
        export_main.export_from_flags()
    assert model_alive_at_reload == [False]
