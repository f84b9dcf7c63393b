"""The exported preprocessor SavedModel of every family, checked against Hugging Face.

Each family is exported once per session from a copy of its tokenizer directory that is deleted
right after the export (tests/fixtures/preprocessors.py), so all of these also show the export
does not need its source files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras
import transformers

from hubexport.errors import ConfigError, ExportDirError
from hubexport.preprocess.preprocessor_module import PreprocessorModule
from hubexport.preprocess.tokenizer_files import load_tokenizer
from hubexport.savedmodel.preprocessor_export import export_preprocessor
from tests.fixtures.preprocessors import EXPORT_SEQ_LENGTH, PACKING_STYLES, text_without_special_tokens
from tests.support import packing_reference

EXPORT_FAMILIES = ["wordpiece", "albert", "xlm_roberta", "roberta"]
PACKED = ("input_word_ids", "input_mask", "input_type_ids")
# The Hugging Face decode call each family's `detokenize` promises to equal (see its docstring).
# Families whose offsets are the fast HF tokenizer's; the SentencePiece ones follow sentencepiece's
# own offsets (tested in test_sentencepiece_parity.py), which the slow HF tokenizers do not give.
OFFSETS_AS_FAST_HF = ("wordpiece", "roberta")
DECODE_OPTIONS = {"wordpiece": dict(skip_special_tokens=True, clean_up_tokenization_spaces=False)}


@pytest.fixture(scope="module")
def spread_lines(parity_lines) -> list[str]:
    """About 250 lines spread over the whole parity set (plain text, CJK and the hard cases)."""
    usable = text_without_special_tokens(parity_lines)
    return usable[:: max(len(usable) // 250, 1)] + [""]


@pytest.fixture(scope="module")
def family_lines(spread_lines, family_dir, hf_tokenizer):
    """A callable: family -> the spread lines, for ALBERT only those where Hugging Face's slow
    and fast tokenizers agree.

    Our ALBERT tokenizer follows the slow (sentencepiece) AlbertTokenizer, and on about a fifth
    of the lines HF's own fast conversion differs from it; packing is compared with the fast one.
    """

    def select(family: str) -> list[str]:
        if family != "albert":
            return spread_lines
        slow = transformers.AlbertTokenizer.from_pretrained(str(family_dir("albert")))
        fast_ids = hf_tokenizer("albert")(spread_lines, add_special_tokens=False)["input_ids"]
        slow_ids = slow(spread_lines, add_special_tokens=False)["input_ids"]
        agreed = [line for line, a, b in zip(spread_lines, fast_ids, slow_ids) if a == b]
        assert len(agreed) > 150
        return agreed

    return select


@pytest.fixture
def lines(family, family_lines) -> list[str]:
    return family_lines(family)


def hf_inputs(hf, first, second=None, seq_length=EXPORT_SEQ_LENGTH) -> dict[str, np.ndarray]:
    """Hugging Face's packed inputs under our names."""
    encoded = hf(
        first, second, truncation=True, max_length=seq_length, padding="max_length", return_token_type_ids=True
    )
    return {
        "input_word_ids": np.array(encoded["input_ids"]),
        "input_mask": np.array(encoded["attention_mask"]),
        "input_type_ids": np.array(encoded["token_type_ids"]),
    }


def assert_inputs_equal(ours, expected) -> None:
    assert set(ours) == set(PACKED)
    for name in PACKED:
        assert ours[name].dtype == tf.int32, name
        np.testing.assert_array_equal(np.asarray(ours[name]), expected[name], err_msg=name)


@pytest.mark.parametrize("family", EXPORT_FAMILIES)
def test_root_call_and_serving_signatures_equal_hugging_face(family, loaded_preprocessor, hf_tokenizer, lines):
    preprocessor, hf = loaded_preprocessor(family), hf_tokenizer(family)
    texts, reverse = tf.constant(lines), tf.constant(lines[::-1])
    single = hf_inputs(hf, lines)
    root = preprocessor(texts)
    assert root["input_word_ids"].shape == (len(lines), EXPORT_SEQ_LENGTH)
    assert_inputs_equal(root, single)
    assert_inputs_equal(preprocessor.signatures["serving_default"](text=texts), single)
    assert_inputs_equal(
        preprocessor.signatures["serving_pair"](text_a=texts, text_b=reverse), hf_inputs(hf, lines, lines[::-1])
    )


@pytest.mark.parametrize("family", EXPORT_FAMILIES)
def test_tokenize_and_offsets_equal_hugging_face(family, loaded_preprocessor, hf_tokenizer, lines):
    preprocessor, hf = loaded_preprocessor(family), hf_tokenizer(family)
    expected = hf(lines, add_special_tokens=False, return_offsets_mapping=True)
    tokens = preprocessor.tokenize(tf.constant(lines))
    assert tokens.dtype == tf.int32 and tokens.ragged_rank == 1
    assert tokens.to_list() == expected["input_ids"]
    ids, starts, ends = preprocessor.tokenize_with_offsets(tf.constant(lines))
    assert ids.to_list() == expected["input_ids"]
    assert starts.dtype == ends.dtype == tf.int64
    for row, line in enumerate(lines):
        spans = list(zip(starts[row].numpy().tolist(), ends[row].numpy().tolist()))
        assert all(0 <= start <= end <= len(line.encode()) for start, end in spans), line
    if family in OFFSETS_AS_FAST_HF:
        # Our offsets count bytes, Hugging Face's count characters: equal on ASCII lines.
        ascii_rows = [i for i, line in enumerate(lines) if line.isascii()]
        assert len(ascii_rows) > 100
        for row in ascii_rows:
            ours = list(zip(starts[row].numpy().tolist(), ends[row].numpy().tolist()))
            assert ours == [tuple(pair) for pair in expected["offset_mapping"][row]], lines[row]


@pytest.mark.parametrize("family", EXPORT_FAMILIES)
def test_bert_pack_inputs_takes_seq_length_at_call_time(family, loaded_preprocessor, hf_tokenizer, lines):
    preprocessor, hf = loaded_preprocessor(family), hf_tokenizer(family)
    half = len(lines) // 2
    first, second = lines[:half], lines[half : 2 * half]
    a, b = preprocessor.tokenize(tf.constant(first)), preprocessor.tokenize(tf.constant(second))
    for seq_length in (11, 20, 64):
        assert_inputs_equal(
            preprocessor.bert_pack_inputs([a, b], seq_length=seq_length), hf_inputs(hf, first, second, seq_length)
        )
    assert_inputs_equal(preprocessor.bert_pack_inputs([a]), hf_inputs(hf, first))
    assert_inputs_equal(preprocessor.bert_pack_inputs([a], tf.constant(24)), hf_inputs(hf, first, seq_length=24))


@pytest.mark.parametrize("family", EXPORT_FAMILIES)
def test_bert_pack_inputs_three_segments_of_ragged_rank_two(family, loaded_preprocessor, hf_tokenizer, lines):
    preprocessor, hf = loaded_preprocessor(family), hf_tokenizer(family)
    groups = [lines[:50], lines[50:100], lines[100:150]]
    tokens = [preprocessor.tokenize(tf.constant(group)) for group in groups]
    as_words = [  # every token its own word: [batch, (words), (pieces)]
        tf.RaggedTensor.from_row_splits(
            tf.RaggedTensor.from_row_lengths(t.values, tf.ones_like(t.values, tf.int64)), t.row_splits
        )
        for t in tokens
    ]
    assert as_words[0].ragged_rank == 2
    packed = preprocessor.bert_pack_inputs(as_words, seq_length=40)
    ids = [hf(group, add_special_tokens=False)["input_ids"] for group in groups]
    expected = [
        packing_reference.pack(
            [ids[0][row], ids[1][row], ids[2][row]],
            40,
            hf.cls_token_id,
            hf.sep_token_id,
            hf.pad_token_id,
            PACKING_STYLES[family],
        )
        for row in range(50)
    ]
    assert packed["input_word_ids"].numpy().tolist() == [word_ids for word_ids, _, _ in expected]
    assert packed["input_mask"].numpy().tolist() == [mask for _, mask, _ in expected]
    assert packed["input_type_ids"].numpy().tolist() == [types for _, _, types in expected]


@pytest.mark.parametrize("family", EXPORT_FAMILIES)
def test_detokenize_and_special_tokens_equal_hugging_face(family, loaded_preprocessor, hf_tokenizer, family_dir, lines):
    preprocessor, hf = loaded_preprocessor(family), hf_tokenizer(family)
    ids = hf(lines, add_special_tokens=False)["input_ids"]
    decoded = preprocessor.detokenize(tf.ragged.constant(ids, dtype=tf.int32, ragged_rank=1, row_splits_dtype=tf.int64))
    decoder = transformers.AlbertTokenizer.from_pretrained(str(family_dir(family))) if family == "albert" else hf
    assert [text.decode("utf-8") for text in decoded.numpy()] == decoder.batch_decode(
        ids, **DECODE_OPTIONS.get(family, {})
    )
    expected = {
        "start_of_sequence_id": hf.cls_token_id,
        "end_of_segment_id": hf.sep_token_id,
        "padding_id": hf.pad_token_id,
        "unknown_id": hf.unk_token_id,
        "mask_id": hf.mask_token_id,
        "vocab_size": len(hf),
    }
    for special_tokens in (preprocessor.get_special_tokens_dict(), preprocessor.tokenize.get_special_tokens_dict()):
        assert {name: int(value) for name, value in special_tokens.items()} == expected
        assert all(value.dtype == tf.int32 for value in special_tokens.values())


@pytest.mark.parametrize("family", EXPORT_FAMILIES)
def test_saved_model_holds_no_source_path_and_typed_signatures(family, exported_preprocessor, loaded_preprocessor):
    export_dir, deleted_source = exported_preprocessor(family)
    assert not deleted_source.exists()
    saved_model = (export_dir / "saved_model.pb").read_bytes()
    assert str(deleted_source).encode() not in saved_model
    assert str(deleted_source.parent).encode() not in saved_model
    assert b"hubexport-tokenizer-" not in saved_model
    signatures = loaded_preprocessor(family).signatures
    assert sorted(signatures) == ["serving_default", "serving_pair"]
    for name, inputs in (("serving_default", ["text"]), ("serving_pair", ["text_a", "text_b"])):
        _, keyword_inputs = signatures[name].structured_input_signature
        assert {key: (spec.dtype, spec.shape.as_list()) for key, spec in keyword_inputs.items()} == {
            key: (tf.string, [None]) for key in inputs
        }
        assert {
            key: (spec.dtype, spec.shape.as_list()) for key, spec in signatures[name].structured_outputs.items()
        } == {key: (tf.int32, [None, EXPORT_SEQ_LENGTH]) for key in PACKED}


def test_saved_model_cli_shows_the_serving_signatures(exported_preprocessor):
    export_dir, _ = exported_preprocessor("roberta")
    shown = subprocess.run(
        ["saved_model_cli", "show", "--dir", str(export_dir), "--all"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "signature_def['serving_default']",
        "signature_def['serving_pair']",
        "name: serving_default_text:0",
        "name: serving_pair_text_a:0",
        "name: serving_pair_text_b:0",
    ):
        assert expected in shown
    for output in PACKED:
        assert (
            f"outputs['{output}'] tensor_info:\n        dtype: DT_INT32\n        shape: (-1, {EXPORT_SEQ_LENGTH})"
            in shown
        )


RELOAD_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the custom ops the preprocessor uses
exports = json.loads(sys.stdin.read())
results = {}
for family, (path, lines, ids) in exports.items():
    preprocessor = tf.saved_model.load(path)
    tokens = tf.ragged.constant(ids, dtype=tf.int32, ragged_rank=1, row_splits_dtype=tf.int64)
    results[family] = {
        "root": preprocessor(tf.constant(lines))["input_word_ids"].numpy().tolist(),
        "packed": preprocessor.bert_pack_inputs([tokens, tokens[::-1]], seq_length=13)["input_word_ids"].numpy().tolist(),
    }
results["modules"] = sorted(name for name in sys.modules if name.split(".")[0] in ("hubexport", "tests", "transformers"))
print(json.dumps(results))
"""


def test_reloads_in_a_process_with_only_tensorflow_text(exported_preprocessor, hf_tokenizer, family_lines):
    exports = {}
    for family in EXPORT_FAMILIES:
        sample = family_lines(family)[:40]
        ids = hf_tokenizer(family)(sample, add_special_tokens=False)["input_ids"]
        exports[family] = (str(exported_preprocessor(family)[0]), sample, ids)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT],
        input=json.dumps(exports),
        capture_output=True,
        text=True,
        cwd="/",
        env=environment,
        check=True,
    )
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    assert results.pop("modules") == []
    for family, got in results.items():
        hf, sample = hf_tokenizer(family), exports[family][1]
        assert got["root"] == hf_inputs(hf, sample)["input_word_ids"].tolist()
        assert got["packed"] == hf_inputs(hf, sample, sample[::-1], 13)["input_word_ids"].tolist()


@pytest.mark.parametrize("family", ["roberta"])  # the seed card's family; packing is family-independent
def test_seed_card_keras_snippets_run_on_the_export(family, exported_preprocessor, hf_tokenizer, lines):
    path, hf, sample = str(exported_preprocessor(family)[0]), hf_tokenizer(family), lines[:30]
    text_input = tf_keras.layers.Input(shape=(), dtype=tf.string)
    preprocessor = hub.KerasLayer(path)
    encoder_inputs = preprocessor(text_input)
    model = tf_keras.Model(text_input, encoder_inputs)
    assert_inputs_equal(model(tf.constant(sample)), hf_inputs(hf, sample))

    preprocessor = hub.load(path)
    tokenize = hub.KerasLayer(preprocessor.tokenize)
    text_inputs = [tf_keras.layers.Input(shape=(), dtype=tf.string), tf_keras.layers.Input(shape=(), dtype=tf.string)]
    tokenized_inputs = [tokenize(segment) for segment in text_inputs]
    for arguments, seq_length in ((None, EXPORT_SEQ_LENGTH), (dict(seq_length=20), 20)):
        bert_pack_inputs = hub.KerasLayer(preprocessor.bert_pack_inputs, arguments=arguments)
        model = tf_keras.Model(text_inputs, bert_pack_inputs(tokenized_inputs))
        got = model([tf.constant(sample), tf.constant(sample[::-1])])
        assert_inputs_equal(got, hf_inputs(hf, sample, sample[::-1], seq_length))


@pytest.mark.parametrize("family", ["wordpiece"])  # the family whose vocabulary is an asset file
def test_a_reloaded_preprocessor_saved_again_still_works(family, exported_preprocessor, hf_tokenizer, lines, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(exported_preprocessor(family)[0], copy)
    loaded = tf.saved_model.load(str(copy))
    tf.saved_model.save(loaded, str(tmp_path / "again"), signatures=dict(loaded.signatures))
    del loaded
    shutil.rmtree(copy)
    again, hf, sample = tf.saved_model.load(str(tmp_path / "again")), hf_tokenizer(family), lines[:40]
    assert_inputs_equal(again(tf.constant(sample)), hf_inputs(hf, sample))
    assert_inputs_equal(
        again.signatures["serving_pair"](text_a=tf.constant(sample), text_b=tf.constant(sample)),
        hf_inputs(hf, sample, sample),
    )
    ids = hf(sample, add_special_tokens=False)["input_ids"]
    tokens = tf.ragged.constant(ids, dtype=tf.int32, ragged_rank=1, row_splits_dtype=tf.int64)
    assert_inputs_equal(again.bert_pack_inputs([tokens, tokens], seq_length=16), hf_inputs(hf, sample, sample, 16))


@pytest.fixture(scope="module")
def roberta_tokenizer(family_dir):
    return load_tokenizer(family_dir("roberta"))


def test_waterfall_truncation_keeps_first_segments(roberta_tokenizer, hf_tokenizer, spread_lines):
    lines = spread_lines
    module = PreprocessorModule(roberta_tokenizer, default_seq_length=16, truncation="waterfall")
    hf = hf_tokenizer("roberta")
    # Hugging Face's "only_second" is waterfall when the first segment fits the budget alone.
    ids = hf(lines[:200], add_special_tokens=False)["input_ids"]
    # ("only_second" refuses to cut the second segment down to nothing.)
    rows = [i for i in range(100) if len(ids[i]) < 16 - 4 and ids[100 + i]]
    assert len(rows) > 10 and any(len(ids[i]) + len(ids[100 + i]) > 16 - 4 for i in rows)
    first, second = [lines[i] for i in rows], [lines[100 + i] for i in rows]
    packed = module.bert_pack_inputs([module.tokenize(tf.constant(first)), module.tokenize(tf.constant(second))])
    theirs = hf(first, second, truncation="only_second", max_length=16, padding="max_length")
    np.testing.assert_array_equal(packed["input_word_ids"].numpy(), np.array(theirs["input_ids"]))


def test_export_refuses_bad_arguments_and_existing_directories(roberta_tokenizer, tmp_path):
    with pytest.raises(ConfigError, match="default_seq_length"):
        export_preprocessor(roberta_tokenizer, tmp_path / "short", default_seq_length=2)
    with pytest.raises(ConfigError, match="truncation"):
        export_preprocessor(roberta_tokenizer, tmp_path / "bad", truncation="longest_first")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("user data")
    with pytest.raises(ExportDirError, match="already exists"):
        export_preprocessor(roberta_tokenizer, tmp_path / "taken")
    assert (tmp_path / "taken" / "keep.txt").read_text() == "user data"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]
