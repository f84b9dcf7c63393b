"""Every file hubexport reads, broken in realistic ways, fails with one line naming the file.

The readers are called in-process (error class and message); a handful of real CLI runs prove the
end-to-end contract: exit code 2, a last stderr line `hubexport: error: ...` naming the file, no
traceback, and nothing written beside --export_dir.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pathlib
import subprocess
import sys

import pytest

from hubexport import user_files
from hubexport.checkpoints.google_tf_import import TFCheckpointTensors
from hubexport.checkpoints.loader import read_checkpoint
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.presets import read_preset
from hubexport.errors import CheckpointError, ConfigError, HubExportError, TokenizerFilesError
from hubexport.preprocess.models.sentencepiece.model_file import SentencePieceModel
from hubexport.preprocess.tokenizer_files import load_tokenizer

# Deterministic garbage: bytes 0x00..0x7f are ASCII (0x0a ends line 1), so the first byte that is not UTF-8 is
# 0x80 at offset 128, on line 2.
BINARY = bytes(range(256)) * 4
WORDPIECE_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LATIN1_VOCAB = "\n".join([*WORDPIECE_TOKENS, "café", ""]).encode("latin-1")  # é (0xe9) at offset 34, line 6
BERT_CONFIG = {
    "model_type": "bert",
    "vocab_size": 10,
    "num_hidden_layers": 1,
    "num_attention_heads": 1,
    "hidden_size": 4,
    "intermediate_size": 8,
}


def write(path: pathlib.Path, content: bytes | str | object) -> pathlib.Path:
    """Writes bytes as they are, a str as UTF-8, anything else as JSON; parents are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def sentencepiece_model() -> bytes:
    """A tiny SentencePiece model with ALBERT's [CLS] and [SEP], trained in milliseconds."""
    import sentencepiece as spm

    model = io.BytesIO()
    lines = ["the quick brown fox jumps over the lazy dog", "a stitch in time saves nine"] * 20
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=40,
        hard_vocab_limit=False,
        minloglevel=2,
        control_symbols=["[CLS]", "[SEP]"],
    )
    return model.getvalue()


def assert_one_line(
    raised: pytest.ExceptionInfo, error_class: type[HubExportError], path: pathlib.Path, fragment: str
) -> None:
    message = str(raised.value)
    assert type(raised.value) is error_class, (type(raised.value), message)
    assert "\n" not in message and str(path) in message and fragment in message, message


# --- user_files itself -----------------------------------------------------------------------------------------


def test_read_text_names_the_first_byte_that_is_not_utf8(tmp_path):
    vocab = write(tmp_path / "vocab.txt", LATIN1_VOCAB)
    with pytest.raises(TokenizerFilesError) as raised:
        user_files.read_text(vocab, error=TokenizerFilesError, what="WordPiece vocabulary")
    assert str(raised.value) == (
        f"cannot read WordPiece vocabulary {vocab}: not UTF-8 text: byte 0xe9 at offset 34 (line 6)"
    )


@pytest.mark.parametrize(
    "content",
    [b"", b"\n", b"a", b"a\n", b"a\n\nb", b"a\r\nb\rc\r\n", b"form\x0cfeed\n", "line\u2028separator\n".encode()],
)
def test_text_and_lines_are_what_text_mode_gives(content, tmp_path):
    path = write(tmp_path / "file.txt", content)
    text = user_files.read_text(path, error=TokenizerFilesError, what="file")
    with open(path, encoding="utf-8") as handle:
        assert text == handle.read()
    with open(path, encoding="utf-8") as handle:
        assert user_files.text_lines(text) == [line.rstrip("\n") for line in handle]


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"a": [1, 2', "not valid JSON: Expecting ',' delimiter at line 1, column 12"),
        ('{\n  "a": 1,\n}', "not valid JSON: Expecting property name enclosed in double quotes at line 3, column 1"),
        ('{"name": "bert', "not valid JSON: Unterminated string starting at line 1, column 10"),
        ("", "the file is empty, expected JSON"),
        (" \n", "the file is empty, expected JSON"),
        ("[1, 2]", "the top level is an array, expected an object"),
        ('"text"', "the top level is a string, expected an object"),
        ("[" * 100_000, "not valid JSON: nested too deeply"),
        (
            '{"vocab_size": ' + "9" * 5000 + "}",
            "not valid JSON: Exceeds the limit (4300 digits) for integer string "
            "conversion: value has 5000 digits; use sys.set_int_max_str_digits() to increase the limit",
        ),
    ],
)
def test_read_json_names_the_problem(content, problem, tmp_path):
    path = write(tmp_path / "config.json", content)
    with pytest.raises(ConfigError) as raised:
        user_files.read_json(path, error=ConfigError, what="encoder config")
    assert str(raised.value) == f"cannot read encoder config {path}: {problem}"


def test_unreadable_paths_are_named(tmp_path):
    (tmp_path / "directory").mkdir()
    cases = {
        tmp_path / "missing.json": "no such file",
        tmp_path / "directory": "it is a directory, not a file",
        write(tmp_path / "file", "x") / "below": "no such file (a parent is not a directory)",
    }
    for path, problem in cases.items():
        with pytest.raises(CheckpointError) as raised:
            user_files.read_bytes(path, error=CheckpointError, what="shard index")
        assert str(raised.value) == f"cannot read shard index {path}: {problem}"


def test_a_file_without_read_permission_is_named(tmp_path, monkeypatch):
    path = write(tmp_path / "vocab.txt", "[PAD]\n")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads whatever the mode bits say: the refusal a user gets is raised directly

        def refuse(self: pathlib.Path) -> bytes:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))

        monkeypatch.setattr(pathlib.Path, "read_bytes", refuse)
    with pytest.raises(TokenizerFilesError, match=f"cannot read WordPiece vocabulary {path}: permission denied"):
        user_files.read_text(path, error=TokenizerFilesError, what="WordPiece vocabulary")


def test_json_types_are_checked_strictly(tmp_path):
    path = tmp_path / "tokenizer.json"
    assert user_files.json_value(3, (int, float), key="k", path=path, error=TokenizerFilesError, what="w") == 3
    with pytest.raises(TokenizerFilesError, match=r": k is true or false, expected an integer$"):
        user_files.json_value(True, (int,), key="k", path=path, error=TokenizerFilesError, what="w")
    with pytest.raises(TokenizerFilesError, match=r": k is a number, expected an object or null$"):
        user_files.json_value(1.5, (dict, type(None)), key="k", path=path, error=TokenizerFilesError, what="w")


# --- tokenizer files ------------------------------------------------------------------------------------------

DIRECTORY = object()  # as the content of a file: make a directory of that name
ALBERT_CONFIG = {"tokenizer_class": "AlbertTokenizer"}
FLAG_OF_FILE = {
    "vocab.txt": "vocab_file",
    "vocab.json": "vocab_file",
    "merges.txt": "merges_file",
    "spiece.model": "sp_model_file",
}


def write_files(root: pathlib.Path, files: dict[str, object]) -> pathlib.Path:
    """Writes `files` (name -> content, as `write` takes it; DIRECTORY makes a directory) into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if content is DIRECTORY:
            (root / name).mkdir()
        else:
            write(root / name, content)
    return root


TOKENIZER_CASES = {
    # name: (files, passed as --tokenizer ("directory") or by their own flags ("files"), the file named, the problem)
    "binary_vocab_txt": (
        {"vocab.txt": BINARY},
        "files",
        "vocab.txt",
        "not UTF-8 text: byte 0x80 at offset 128 (line 2)",
    ),
    "latin1_vocab_txt": ({"vocab.txt": LATIN1_VOCAB}, "directory", "vocab.txt", "byte 0xe9 at offset 34 (line 6)"),
    "empty_vocab_txt": ({"vocab.txt": b""}, "files", "vocab.txt", "lacks [CLS], [SEP], [PAD], [UNK]"),
    "truncated_vocab_json": (
        {"vocab.json": '{"<s>": 0, "<pa', "merges.txt": "#version: 0.2\n"},
        "files",
        "vocab.json",
        "not valid JSON: Unterminated string",
    ),
    "vocab_json_list": (
        {"vocab.json": ["<s>", "<pad>"], "merges.txt": "#version: 0.2\n"},
        "files",
        "vocab.json",
        "the top level is an array, expected an object",
    ),
    "vocab_json_string_ids": (
        {"vocab.json": {"<s>": "0", "<pad>": 1}, "merges.txt": "#version: 0.2\n"},
        "files",
        "vocab.json",
        "token ids must be exactly the integers 0..1",
    ),
    "binary_merges_txt": (
        {"vocab.json": {"<s>": 0}, "merges.txt": b"#version: 0.2\n\xff\xfe"},
        "files",
        "merges.txt",
        "byte 0xff at offset 14 (line 2)",
    ),
    "truncated_tokenizer_config": (
        {"tokenizer_config.json": '{"tokenizer_class": "Ber'},
        "directory",
        "tokenizer_config.json",
        "not valid JSON: Unterminated string",
    ),
    "tokenizer_config_class_number": (
        {"tokenizer_config.json": {"tokenizer_class": 7}},
        "directory",
        "tokenizer_config.json",
        "tokenizer_class is an integer, expected a string or null",
    ),
    "tokenizer_config_lowercase_string": (
        {"tokenizer_config.json": {"do_lower_case": "false"}},
        "directory",
        "tokenizer_config.json",
        "do_lower_case is a string, expected true or false",
    ),
    "binary_tokenizer_json": ({"tokenizer.json": BINARY}, "directory", "tokenizer.json", "not UTF-8 text"),
    "empty_tokenizer_json": (
        {"tokenizer.json": b""},
        "directory",
        "tokenizer.json",
        "the file is empty, expected JSON",
    ),
    "tokenizer_json_directory": (
        {"tokenizer.json": DIRECTORY},
        "directory",
        "tokenizer.json",
        "it is a directory, not a file",
    ),
    "tokenizer_json_model_list": (
        {"tokenizer.json": {"model": []}},
        "directory",
        "tokenizer.json",
        "model is an array, expected an object",
    ),
    "tokenizer_json_normalizer_string": (
        {"tokenizer.json": {"normalizer": "BertNormalizer"}},
        "directory",
        "tokenizer.json",
        "normalizer is a string, expected an object or null",
    ),
    "tokenizer_json_added_token_without_id": (
        {"tokenizer.json": {"added_tokens": [{"content": "[CLS]"}]}},
        "directory",
        "tokenizer.json",
        "added_tokens[0].id is null, expected an integer",
    ),
    "tokenizer_json_bad_merge": (
        {
            "tokenizer.json": {
                "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", 7]},
                "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
            }
        },
        "directory",
        "tokenizer.json",
        "model.merges[1] is not a merge ('left right' or ['left', 'right'])",
    ),
    "tokenizer_json_string_ids": (
        {"tokenizer.json": {"model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "[UNK]": "1"}}}},
        "directory",
        "tokenizer.json",
        "token ids are not the contiguous range 0..1",
    ),
    "garbage_spiece_model": (
        {"tokenizer_config.json": ALBERT_CONFIG, "spiece.model": BINARY},
        "directory",
        "spiece.model",
        "not a SentencePiece model (its protobuf does not parse)",
    ),
    "empty_spiece_model": (
        {"tokenizer_config.json": ALBERT_CONFIG, "spiece.model": b""},
        "directory",
        "spiece.model",
        "not a SentencePiece model (it has no pieces)",
    ),
    "garbage_sp_model_file": ({"spiece.model": BINARY}, "files", "spiece.model", "is not a SentencePiece model"),
}


@pytest.mark.parametrize("name", list(TOKENIZER_CASES))
def test_broken_tokenizer_files_are_named(name, tmp_path):
    files, passed, named, problem = TOKENIZER_CASES[name]
    root = write_files(tmp_path / "tokenizer", files)
    arguments = {"tokenizer_dir": root} if passed == "directory" else {FLAG_OF_FILE[f]: root / f for f in files}
    with pytest.raises(HubExportError) as raised:
        load_tokenizer(**arguments)
    assert_one_line(raised, TokenizerFilesError, root / named, problem)


def test_truncated_sentencepiece_model_is_named_and_the_whole_one_parses(tmp_path):
    import sentencepiece as spm

    model = sentencepiece_model()
    whole = SentencePieceModel.from_file(write(tmp_path / "whole.model", model))
    assert len(whole) == spm.SentencePieceProcessor(model_proto=model).get_piece_size() and "[CLS]" in whole.piece_ids
    root = write_files(tmp_path / "tokenizer", {"tokenizer_config.json": ALBERT_CONFIG, "spiece.model": model[:1000]})
    with pytest.raises(HubExportError) as raised:
        load_tokenizer(root)
    assert_one_line(raised, TokenizerFilesError, root / "spiece.model", "its protobuf does not parse")


# --- encoder configs and presets ------------------------------------------------------------------------------

ENCODER = {
    "family": "bert",
    "vocabulary_size": 10,
    "num_layers": 1,
    "num_heads": 1,
    "hidden_dim": 4,
    "intermediate_dim": 8,
}

CONFIG_CASES = {
    "binary": (BINARY, "not UTF-8 text: byte 0x80 at offset 128 (line 2)"),
    "truncated": (json.dumps(ENCODER)[:40], "not valid JSON"),
    "list": ([ENCODER], "the top level is an array, expected an object"),
    "empty": (b"", "the file is empty, expected JSON"),
    "encoder_not_an_object": ({"encoder": [ENCODER]}, "encoder config must be a JSON object"),
    "dropout_as_string": ({**ENCODER, "dropout": "0.1"}, "dropout='0.1' must be a number in [0, 1)"),
    "epsilon_as_string": ({**ENCODER, "layer_norm_epsilon": "1e-12"}, "layer_norm_epsilon='1e-12' must be a positive"),
    "padding_position_as_float": ({**ENCODER, "padding_position": 1.5}, "padding_position=1.5 must be a non-negative"),
    "num_layers_as_bool": ({**ENCODER, "num_layers": True}, "num_layers=True must be a positive integer"),
}


@pytest.mark.parametrize("name", list(CONFIG_CASES))
def test_broken_config_file_is_named(name, tmp_path):
    content, fragment = CONFIG_CASES[name]
    path = write(tmp_path / "config.json", content)
    with pytest.raises(HubExportError) as raised:
        EncoderConfig.from_json_file(path)
    assert_one_line(raised, ConfigError, path, fragment)


def test_config_file_that_is_a_directory_is_named(tmp_path):
    with pytest.raises(HubExportError) as raised:
        EncoderConfig.from_json_file(tmp_path)
    assert_one_line(raised, ConfigError, tmp_path, "it is a directory, not a file")


@pytest.mark.parametrize("content, fragment", [(BINARY, "not UTF-8 text"), ("[]", "the top level is an array")])
def test_broken_preset_file_is_named(content, fragment, tmp_path):
    path = write(tmp_path / "bert_tiny.json", content)
    with pytest.raises(HubExportError) as raised:
        read_preset(path)
    assert_one_line(raised, ConfigError, path, fragment)


# --- checkpoints ----------------------------------------------------------------------------------------------

INDEX = "model.safetensors.index.json"
SAFETENSORS = {"config.json": BERT_CONFIG, "model.safetensors": BINARY}
CHECKPOINT_CASES = {
    # name: (files, --checkpoint relative to their directory, error class, the file named, the problem)
    "binary_hf_config": (
        {**SAFETENSORS, "config.json": BINARY},
        "",
        ConfigError,
        "config.json",
        "cannot read model config",
    ),
    "truncated_hf_config": (
        {**SAFETENSORS, "config.json": json.dumps(BERT_CONFIG)[:30]},
        "",
        ConfigError,
        "config.json",
        "not valid JSON",
    ),
    "hf_config_model_type_list": (
        {**SAFETENSORS, "config.json": {**BERT_CONFIG, "model_type": ["bert"]}},
        "",
        ConfigError,
        "config.json",
        "model_type=['bert'] is not supported",
    ),
    "hf_config_pad_token_string": (
        {**SAFETENSORS, "config.json": {**BERT_CONFIG, "model_type": "roberta", "pad_token_id": "1"}},
        "",
        ConfigError,
        "config.json",
        "pad_token_id is a string, expected an integer",
    ),
    "garbage_safetensors": (SAFETENSORS, "", CheckpointError, "model.safetensors", "corrupt safetensors file"),
    "binary_shard_index": (
        {"config.json": BERT_CONFIG, INDEX: BINARY},
        "",
        CheckpointError,
        INDEX,
        "cannot read shard index",
    ),
    "truncated_shard_index": (
        {"config.json": BERT_CONFIG, INDEX: '{"weight_map": {"a": "model-0'},
        "",
        CheckpointError,
        INDEX,
        "not valid JSON",
    ),
    "shard_index_without_weight_map": (
        {"config.json": BERT_CONFIG, INDEX: {"metadata": {}}},
        "",
        CheckpointError,
        INDEX,
        "no weight_map",
    ),
    "shard_index_weight_map_list": (
        {"config.json": BERT_CONFIG, INDEX: {"weight_map": ["model-1.safetensors"]}},
        "",
        CheckpointError,
        INDEX,
        "weight_map is an array, expected an object",
    ),
    "garbage_pytorch_model_bin": (
        {"config.json": BERT_CONFIG, "pytorch_model.bin": BINARY},
        "",
        CheckpointError,
        "pytorch_model.bin",
        "torch.load(weights_only=True)",
    ),
    "garbage_tf_checkpoint_index": (
        {"model.ckpt.index": BINARY},
        "model.ckpt",
        CheckpointError,
        "model.ckpt",
        "cannot read TF checkpoint",
    ),
    "binary_tf_checkpoint_state_file": (
        {"checkpoint": BINARY},
        "",
        CheckpointError,
        "checkpoint",
        "cannot read TF checkpoint state file",
    ),
    "binary_keras_hub_config": (
        {"config.json": BINARY, "model.weights.h5": BINARY},
        "",
        ConfigError,
        "config.json",
        "not UTF-8 text",
    ),
    "binary_keras_hub_task_json": (
        {"config.json": {"registered_name": "keras_hub>BertBackbone"}, "model.weights.h5": BINARY, "task.json": BINARY},
        "",
        ConfigError,
        "task.json",
        "not UTF-8 text",
    ),
}


@pytest.mark.parametrize("name", list(CHECKPOINT_CASES))
def test_broken_checkpoint_files_are_named(name, tmp_path):
    files, checkpoint, error_class, named, problem = CHECKPOINT_CASES[name]
    root = write_files(tmp_path / "checkpoint", files)
    with pytest.raises(HubExportError) as raised:
        read_checkpoint(str(root / checkpoint), None, None, with_mlm=False)
    assert_one_line(raised, error_class, root / named, problem)


def test_truncated_tf_checkpoint_data_names_the_tensor(tmp_path):
    import numpy as np
    import tensorflow as tf

    prefix = tf.train.Checkpoint(v=tf.Variable(np.arange(1000, dtype=np.float32))).write(str(tmp_path / "model.ckpt"))
    data = tmp_path / "model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])
    tensors = TFCheckpointTensors(prefix)
    with pytest.raises(HubExportError) as raised:
        tensors.read("v/.ATTRIBUTES/VARIABLE_VALUE")
    assert_one_line(
        raised, CheckpointError, tmp_path / "model.ckpt", "cannot read tensor 'v/.ATTRIBUTES/VARIABLE_VALUE'"
    )


# --- the command line -----------------------------------------------------------------------------------------

CLI_CASES = {
    # name: (files, flags ({root}: the files' directory), the file named)
    "binary_vocab_file": (
        {"vocab.bin": BINARY},
        ["--export_type=preprocessor", "--vocab_file={root}/vocab.bin"],
        "vocab.bin",
    ),
    "truncated_tokenizer_json": (
        {"tokenizer.json": '{"model": {"type": "Wor'},
        ["--export_type=preprocessor", "--tokenizer={root}"],
        "tokenizer.json",
    ),
    "corrupt_sentencepiece_model": (
        {"tokenizer_config.json": ALBERT_CONFIG, "spiece.model": BINARY},
        ["--export_type=preprocessor", "--tokenizer={root}"],
        "spiece.model",
    ),
    "binary_config_file": ({"config.json": BINARY}, ["--config_file={root}/config.json"], "config.json"),
    "corrupt_safetensors_index": ({"config.json": BERT_CONFIG, INDEX: BINARY}, ["--checkpoint={root}"], INDEX),
}


def test_cli_exits_2_with_one_line_naming_the_file_and_writes_nothing(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {}
    for name, (files, flags, named) in CLI_CASES.items():
        root = write_files(tmp_path / name / "input", files)
        export_dir = tmp_path / name / "exports" / "model"
        export_dir.parent.mkdir()
        command = [
            sys.executable,
            "-m",
            "hubexport.export_main",
            *(flag.format(root=root) for flag in flags),
            f"--export_dir={export_dir}",
        ]
        runs[name] = (
            root / named,
            export_dir,
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path),
        )
    for name, (path, export_dir, process) in runs.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, (name, stderr[-2000:])
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("hubexport: error: ") and str(path) in last, (name, stderr[-2000:])
        assert "Traceback" not in stderr, (name, stderr[-2000:])
        assert list(export_dir.parent.iterdir()) == [], name
