"""The Python API (`hubexport.export` and the per-type functions): the README example runs, bad
options raise HubExportError subclasses naming the option, progress goes to the `hubexport` logger."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import re
import subprocess
import sys

import pytest

import hubexport
from hubexport.errors import ConfigError, ExportDirError, HubExportError

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY_BERT = {
    "family": "bert",
    "vocabulary_size": 30522,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 16,
    "intermediate_dim": 32,
    "max_sequence_length": 64,
}


def readme_api_example() -> str:
    """The Python block the README marks as the API example."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", readme, re.S)
    assert match, "README.md lacks the <!-- api-example --> python block"
    return match.group(1)


@pytest.fixture
def tiny_config(tmp_path) -> pathlib.Path:
    path = tmp_path / "tiny_bert.json"
    path.write_text(json.dumps(TINY_BERT))
    return path


def test_the_readme_api_example_runs(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", readme_api_example()], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "exports" / "electra_small" / "encoder" / "saved_model.pb").is_file()
    assert (tmp_path / "exports" / "electra_small" / "preprocessor" / "saved_model.pb").is_file()
    assert "exported encoder" in result.stdout and "preprocessor (WordPieceTokenizer" in result.stdout


def test_import_hubexport_does_not_load_tensorflow():
    code = "import sys, hubexport; hubexport.ConfigError; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    "options, named",
    [
        (dict(export_type="encoder", preset="roberta_base_en"), "--export_dir"),
        (dict(export_type="everything", export_dir="out", preset="roberta_base_en"), "--export_type"),
        (
            dict(export_type="encoder", export_dir="out", preset="roberta_base_en", serving_version=2),
            "--serving_version",
        ),
        (dict(export_type="encoder", export_dir="out", preset="roberta_base_en", tokenizer="dir"), "--tokenizer"),
        (dict(export_type="preprocessor", export_dir="out"), "--tokenizer"),
        (dict(export_type="encoder", export_dir="out"), "--preset"),
        (dict(export_type="encoder", export_dir="out", preset="no_such_preset"), "no_such_preset"),
    ],
)
def test_bad_options_raise_a_config_error_naming_the_option(tmp_path, monkeypatch, options, named):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=re.escape(named)):
        hubexport.export(**options)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_refused_before_any_work(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(ExportDirError, match="--overwrite"):
        hubexport.export_encoder(preset="roberta_large_en", export_dir=tmp_path / "out")
    assert issubclass(ExportDirError, HubExportError)


def test_progress_is_one_record_per_stage_and_random_weights_a_warning(tmp_path, tiny_config, caplog):
    caplog.set_level(logging.INFO, logger="hubexport")
    result = hubexport.export_encoder(config_file=tiny_config, export_dir=tmp_path / "out", seed=1)
    assert result.path == (tmp_path / "out").absolute() and result.export_type == "encoder"
    assert (result.path / "saved_model.pb").is_file()
    stages = [record.getMessage().split(":")[0] for record in caplog.records if record.levelno == logging.INFO]
    assert stages == ["build encoder", "trace encoder", "save encoder", "probe encoder", "move out into place"]
    assert all(
        re.fullmatch(r"[a-z -]+: \d+\.\d s", r.getMessage()) for r in caplog.records if r.levelno == logging.INFO
    )
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "RANDOMLY INITIALIZED" in warnings[0]


def test_export_dispatches_to_the_function_of_each_type(tmp_path, tiny_config, minilm_tokenizer_dir):
    result = hubexport.export(
        export_type="end_to_end",
        config_file=tiny_config,
        tokenizer=minilm_tokenizer_dir,
        export_dir=tmp_path / "model",
        default_seq_length=32,
    )
    assert result.path == (tmp_path / "model" / "1").absolute()
    assert "tensorflow_model_server" in result.serving_instructions
    assert "seq_length 32" in result.summary


def test_path_objects_are_accepted_wherever_a_path_is(tmp_path, hf_cases):
    case = hf_cases["bert_model_bin"]
    result = hubexport.export_encoder(checkpoint=pathlib.Path(case.path), export_dir=tmp_path / "encoder")
    metadata = json.loads((result.path / "assets.extra" / "hubexport.json").read_text())
    assert metadata["weights"] == f"Hugging Face BertModel at {case.path}"
