"""The absl command line: presets listing, errors as one line with exit code 2, atomic exports."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.support.tiny_config import TINY_CONFIG


def run_cli(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "hubexport.export_main", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_list_presets_prints_every_preset_with_its_size(tmp_path):
    result = run_cli("--list_presets", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["name", "family", "layers", "hidden", "parameters"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert len(rows) == 17
    assert rows["roberta_base_en"] == ["roberta", "12", "768", "124.05M"]
    assert rows["albert_extra_extra_large_en_uncased"] == ["albert", "12", "4096", "222.60M"]


def test_help_documents_every_flag(tmp_path):
    result = run_cli("--help", cwd=tmp_path)
    for flag in (
        "export_type",
        "preset",
        "config_file",
        "checkpoint",
        "checkpoint_format",
        "export_dir",
        "overwrite",
        "dtype",
        "seed",
        "list_presets",
    ):
        assert f"--{flag}" in result.stdout, flag


@pytest.mark.parametrize(
    "args, named",
    [
        (("--no_such_flag",), "no_such_flag"),
        (("--export_type=everything",), "export_type"),
        (("--preset=roberta_base_en",), "--export_dir"),
        (("--preset=not_a_preset", "--export_dir=out"), "not_a_preset"),
        (("--export_dir=out",), "--preset"),
        (("--preset=roberta_base_en", "--config_file=x.json", "--export_dir=out"), "--config_file"),
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_the_problem(tmp_path, args, named):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert named in last_line(result.stderr)
    assert last_line(result.stderr).startswith("hubexport: error:")
    assert not (tmp_path / "out").exists()


def test_bad_config_file_names_file_and_key(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({**TINY_CONFIG, "hidden_size": 8}))
    result = run_cli(f"--config_file={config}", "--export_dir=out", cwd=tmp_path)
    assert result.returncode == 2
    assert "bad.json" in last_line(result.stderr) and "hidden_size" in last_line(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_export_warns_about_random_weights_and_never_clobbers(tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_CONFIG))
    first = run_cli(f"--config_file={config}", "--export_dir=out", "--seed=1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "RANDOMLY INITIALIZED" in first.stderr
    assert (tmp_path / "out" / "saved_model.pb").is_file()
    metadata = json.loads((tmp_path / "out" / "assets.extra" / "hubexport.json").read_text())
    assert metadata["weights"] == "random initialization" and metadata["encoder_config"]["hidden_dim"] == 8

    stamp = (tmp_path / "out" / "saved_model.pb").stat().st_mtime_ns
    second = run_cli(f"--config_file={config}", "--export_dir=out", cwd=tmp_path)
    assert second.returncode == 2 and "--overwrite" in last_line(second.stderr)
    assert (tmp_path / "out" / "saved_model.pb").stat().st_mtime_ns == stamp

    third = run_cli(f"--config_file={config}", "--export_dir=out", "--overwrite", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert (tmp_path / "out" / "saved_model.pb").stat().st_mtime_ns != stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.json"]


TINY_BERT_30K = {**TINY_CONFIG, "vocabulary_size": 30522, "max_sequence_length": 128}


def test_readme_main_command_prints_a_line_per_stage_and_no_tensorflow_logs(tmp_path, minilm_tokenizer_dir):
    """The README's main command (--export_type=both) on a small model: at most 15 lines, each from hubexport."""
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_BERT_30K))
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hubexport.export_main",
            "--export_type=both",
            f"--config_file={config}",
            f"--tokenizer={minilm_tokenizer_dir}",
            "--export_dir=out",
            "--overwrite",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    stderr, stdout = result.stderr.splitlines(), result.stdout.splitlines()
    assert len(stderr) + len(stdout) <= 15, result.stderr + result.stdout
    assert [line for line in stderr if not line.startswith("hubexport: ")] == []
    assert stderr[0].startswith("hubexport: load tokenizer: ")
    assert stderr[-1].startswith("hubexport: move out into place: ")
    assert sum(line.startswith("hubexport: warning: ") for line in stderr) == 1
    assert len(stdout) == 1 and stdout[0].startswith("exported encoder (") and "preprocessor (" in stdout[0]


def test_verbosity_shows_tensorflow_logs_again(tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_CONFIG))
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", "hubexport.export_main", f"--config_file={config}", "--export_dir=out", "--verbosity=0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert any(not line.startswith("hubexport: ") for line in result.stderr.splitlines())


def test_help_lists_every_export_type(tmp_path):
    result = run_cli("--help", cwd=tmp_path)
    help_text = " ".join(result.stdout.split())
    for export_type in ("'encoder'", "'preprocessor'", "'both'", "'encoder_with_mlm'", "'end_to_end'"):
        assert f"{export_type}:" in help_text, export_type
