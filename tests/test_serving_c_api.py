"""serving/c_api/embed.c: the end-to-end exports (embeddings, classifiers) run from C, with only the TensorFlow C API.

The program is compiled here with gcc against the C API headers and shared libraries that the
tensorflow wheel ships, then run on the session's end-to-end exports; its embeddings, and a text
classifier's logits and labels, must equal the ones Python computes.
"""

from __future__ import annotations

import pathlib
import re
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from hubexport.serving.custom_ops import required_text_ops
from tests.fixtures.preprocessors import text_without_special_tokens

SOURCE = pathlib.Path(__file__).resolve().parents[1] / "serving" / "c_api" / "embed.c"
LOAD_SYMBOL = "TF_LoadSessionFromSavedModel"


def exports_symbol(library: pathlib.Path, symbol: str) -> bool:
    """True if `library`'s dynamic symbol table defines `symbol` (possibly versioned)."""
    listed = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True)
    return any(line.split()[-1].split("@")[0] == symbol for line in listed.stdout.splitlines() if line.strip())


@pytest.fixture(scope="module")
def embed_program(tmp_path_factory) -> pathlib.Path:
    """embed.c compiled and linked against the wheel's libtensorflow_cc / libtensorflow_framework."""
    lib_dir, include_dir = pathlib.Path(tf.sysconfig.get_lib()), pathlib.Path(tf.sysconfig.get_include())
    assert (include_dir / "tensorflow" / "c" / "c_api.h").is_file()
    libraries = sorted(lib_dir.glob("libtensorflow*.so.2"))
    with_loader = [library for library in libraries if exports_symbol(library, LOAD_SYMBOL)]
    assert [library.name for library in with_loader] == ["libtensorflow_cc.so.2"]
    program = tmp_path_factory.mktemp("c_api") / "embed"
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-std=c11",
            "-D_POSIX_C_SOURCE=200809L",
            "-Wall",
            "-Wextra",
            "-Werror",
            str(SOURCE),
            "-o",
            str(program),
            f"-I{include_dir}",
            f"-L{lib_dir}",
            *(f"-l:{library.name}" for library in libraries),
            f"-Wl,-rpath,{lib_dir}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return program


@pytest.fixture(scope="module")
def sentences(parity_lines) -> list[str]:
    """About 25 lines (ASCII, accents, CJK, emoji) plus an empty one; NUL cannot travel in argv."""
    usable = [line for line in text_without_special_tokens(parity_lines) if "\x00" not in line]
    return usable[:: max(len(usable) // 25, 1)] + [""]


def run_embed(program: pathlib.Path, export: pathlib.Path, texts: list[str], libraries, *options: str):
    """Runs the C program; returns the completed process."""
    loads = [argument for library in libraries for argument in ("-l", str(library))]
    return subprocess.run([str(program), *loads, *options, str(export), *texts], capture_output=True, text=True)


@pytest.mark.parametrize("family", ["wordpiece", "roberta"])
def test_c_program_embeddings_equal_python(family, embed_program, end_to_end_case, loaded_end_to_end, sentences):
    export = end_to_end_case(family).export.path
    libraries = list(required_text_ops(export))
    if family == "wordpiece":  # FastWordpiece at least; byte-level BPE is core TensorFlow only
        assert "_fast_wordpiece_tokenizer.so" in [library.name for library in libraries]
    else:
        assert libraries == []
    completed = run_embed(embed_program, export, sentences, libraries)
    assert completed.returncode == 0, completed.stderr[-2000:]
    from_c = np.array([[float(value) for value in row.split()] for row in completed.stdout.splitlines()])
    expected = loaded_end_to_end(family).signatures["serving_default"](text=tf.constant(sentences))["embedding"].numpy()
    assert from_c.shape == expected.shape
    assert np.max(np.abs(from_c - expected)) <= 1e-5


def test_c_program_prints_other_outputs_and_needs_the_text_op_library(
    embed_program, end_to_end_case, loaded_end_to_end
):
    export, texts = end_to_end_case("wordpiece").export.path, ["a short text", "and a second, longer one"]
    completed = run_embed(embed_program, export, texts, required_text_ops(export), "-o", "pooled_output")
    assert completed.returncode == 0, completed.stderr[-2000:]
    expected = loaded_end_to_end("wordpiece").signatures["serving_default"](text=tf.constant(texts))["pooled_output"]
    from_c = np.array([[float(value) for value in row.split()] for row in completed.stdout.splitlines()])
    assert np.max(np.abs(from_c - expected.numpy())) <= 1e-5
    without_library = run_embed(embed_program, export, texts, [])
    assert without_library.returncode != 0
    missing = re.search(r"Op type not registered '([^']+)'", without_library.stderr)
    assert missing and any(missing.group(1) in ops for ops in required_text_ops(export).values())


def test_c_program_prints_a_classifiers_logits_and_labels(embed_program, classifier_end_to_end, sentences):
    _, result, loaded = classifier_end_to_end("bert", "three_way")
    libraries = list(required_text_ops(result.path))
    expected = loaded.signatures["serving_default"](text=tf.constant(sentences))
    logits = run_embed(embed_program, result.path, sentences, libraries, "-o", "logits")
    assert logits.returncode == 0, logits.stderr[-2000:]
    from_c = np.array([[float(value) for value in row.split()] for row in logits.stdout.splitlines()])
    assert from_c.shape == expected["logits"].shape
    assert np.max(np.abs(from_c - expected["logits"].numpy())) <= 1e-5
    labels = run_embed(embed_program, result.path, sentences, libraries, "-o", "label")
    assert labels.returncode == 0, labels.stderr[-2000:]
    assert labels.stdout.splitlines() == [label.decode() for label in expected["label"].numpy()]
