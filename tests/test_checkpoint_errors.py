"""Broken or mismatched checkpoints fail with a CheckpointError naming the tensor; the CLI turns it
into one line, exit code 2, and leaves no export directory behind."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from hubexport.errors import CheckpointError, ConfigError
from hubexport.model_source import build_encoder

WEIGHTS = "model.safetensors"
VALUE = "bert.encoder.layer.1.attention.self.value.weight"
NORM = "bert.encoder.layer.1.output.LayerNorm.weight"
EXTRA = "bert.encoder.layer.2.output.dense.weight"


def edited_copy(source: pathlib.Path, target: pathlib.Path, edit) -> pathlib.Path:
    """A copy of the HF model directory whose tensors went through `edit(dict) -> dict`."""
    shutil.copytree(source, target)
    tensors = edit(load_file(source / WEIGHTS))
    save_file(tensors, target / WEIGHTS, metadata={"format": "pt"})
    return target


def last_tensor_in_file(path: pathlib.Path) -> str:
    """The tensor whose bytes end the file (read from the safetensors header, independently)."""
    data = path.read_bytes()
    header = json.loads(data[8 : 8 + struct.unpack("<Q", data[:8])[0]])
    header.pop("__metadata__", None)
    return max(header, key=lambda name: header[name]["data_offsets"][1])


def truncated(source: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    shutil.copytree(source, target)
    data = (source / WEIGHTS).read_bytes()
    (target / WEIGHTS).write_bytes(data[:-100])
    return target


@pytest.fixture(scope="module")
def broken(hf_cases, tmp_path_factory) -> dict[str, tuple[pathlib.Path, list[str]]]:
    """kind -> (a broken copy of the BERT checkpoint, strings its error must contain)."""
    source = hf_cases["bert_pretraining"].path
    root = tmp_path_factory.mktemp("broken")
    return {
        "truncated": (
            truncated(source, root / "truncated"),
            [repr(last_tensor_in_file(source / WEIGHTS)), "truncated"],
        ),
        "wrong_shape": (
            edited_copy(source, root / "wrong_shape", lambda t: {**t, VALUE: np.zeros((32, 31), np.float32)}),
            [repr(VALUE), "(32, 31)", "(32, 32)"],
        ),
        "missing": (
            edited_copy(source, root / "missing", lambda t: {k: v for k, v in t.items() if k != NORM}),
            [repr(NORM), "missing"],
        ),
        "unexpected": (
            edited_copy(source, root / "unexpected", lambda t: {**t, EXTRA: np.zeros((32, 37), np.float32)}),
            [repr(EXTRA)],
        ),
    }


@pytest.mark.parametrize("kind", ["truncated", "wrong_shape", "missing", "unexpected"])
def test_broken_checkpoint_names_the_tensor(kind, broken):
    path, expected = broken[kind]
    with pytest.raises(CheckpointError) as raised:
        build_encoder(None, None, checkpoint=str(path))
    message = str(raised.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, message


def test_cli_exits_2_with_one_line_and_leaves_nothing(broken, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {}
    for kind in ("truncated", "wrong_shape", "missing"):
        out = tmp_path / kind / "export"
        out.parent.mkdir()
        runs[kind] = (
            out,
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hubexport.export_main",
                    f"--checkpoint={broken[kind][0]}",
                    f"--export_dir={out}",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tmp_path,
            ),
        )
    for kind, (out, process) in runs.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, stderr[-2000:]
        errors = [line for line in stderr.splitlines() if line.startswith("hubexport: error:")]
        assert len(errors) == 1 and "Traceback" not in stderr, stderr[-2000:]
        for part in broken[kind][1]:
            assert part in errors[0]
        assert not out.exists() and list(out.parent.iterdir()) == []


def test_tied_copy_that_differs_is_an_error(hf_cases, tmp_path):
    import torch

    source = hf_cases["roberta_mlm"].path
    shutil.copytree(source, tmp_path / "untied")
    state = torch.load(source / "pytorch_model.bin", weights_only=True)
    assert "lm_head.decoder.weight" in state  # pytorch_model.bin keeps the tied copy
    state["lm_head.decoder.weight"] = state["lm_head.decoder.weight"].clone() + 1.0
    torch.save(state, tmp_path / "untied" / "pytorch_model.bin")
    with pytest.raises(
        CheckpointError,
        match=r"'lm_head.decoder.weight' should be tied to "
        r"'roberta.embeddings.word_embeddings.weight'",
    ):
        build_encoder(None, None, checkpoint=str(tmp_path / "untied"), with_mlm=True)


def test_preset_that_disagrees_with_the_checkpoint_is_an_error(hf_cases):
    with pytest.raises(ConfigError, match=r"preset bert_base_en does not match .*hidden_dim=768 vs 32"):
        build_encoder("bert_base_en", None, checkpoint=str(hf_cases["bert_pretraining"].path))


def test_preset_that_agrees_with_the_checkpoint_is_accepted(hf_cases, tmp_path):
    config = tmp_path / "config.json"
    model = build_encoder(None, None, checkpoint=str(hf_cases["bert_model_bin"].path)).model
    config.write_text(json.dumps({**model.config.to_dict(), "dropout": 0.0}))
    source = build_encoder(None, str(config), checkpoint=str(hf_cases["bert_model_bin"].path))
    assert source.architecture == f"config file {config}"
    np.testing.assert_array_equal(
        source.model.token_embedding.embeddings.numpy(), model.token_embedding.embeddings.numpy()
    )


def test_mlm_export_needs_a_checkpoint_with_an_lm_head(hf_cases):
    with pytest.raises(CheckpointError, match="has no masked-LM head"):
        build_encoder(None, None, checkpoint=str(hf_cases["bert_model_bin"].path), with_mlm=True)


def test_unrecognized_directory_and_offline_handle_fail_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(CheckpointError, match="cannot tell the format"):
        build_encoder(None, None, checkpoint=str(tmp_path))
    with pytest.raises(CheckpointError, match="does not exist"):
        build_encoder(None, None, checkpoint=str(tmp_path / "absent"))
    with pytest.raises(CheckpointError, match="cannot download hf://no-such-org/no-such-model") as raised:
        build_encoder(None, None, checkpoint="hf://no-such-org/no-such-model")  # HF_HUB_OFFLINE=1 in conftest
    assert "\n" not in str(raised.value)
