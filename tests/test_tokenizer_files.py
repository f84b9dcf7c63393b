"""Finding tokenizer files: detection on each family's Hugging Face directory, and clear errors."""

from __future__ import annotations

import gc
import json
import pathlib
import shutil
import tempfile

import pytest
import tensorflow as tf
import transformers

from hubexport.errors import TokenizerFilesError
from hubexport.preprocess.tokenizer_files import describe_tokenizer, load_tokenizer
from tests.fixtures.preprocessors import text_without_special_tokens

DIR_FAMILIES = {
    "bert_uncased_tokenizer_dir": "wordpiece",
    "bert_cased_tokenizer_dir": "wordpiece",
    "minilm_tokenizer_dir": "wordpiece",
    "electra_tokenizer_dir": "wordpiece",
    "albert_tokenizer_dir": "albert",
    "xlm_roberta_tokenizer_dir": "xlm_roberta",
    "roberta_tokenizer_dir": "byte_level_bpe",
}


def copy_files(source: pathlib.Path, destination: pathlib.Path, names: list[str]) -> pathlib.Path:
    destination.mkdir()
    for name in names:
        shutil.copy(source / name, destination / name)
    return destination


def scratch_dirs() -> set[pathlib.Path]:
    return set(pathlib.Path(tempfile.gettempdir()).glob("hubexport-tokenizer-*"))


@pytest.mark.parametrize("fixture", list(DIR_FAMILIES))
def test_directory_detection_agrees_with_hugging_face(fixture, request, tmp_path):
    directory = request.getfixturevalue(fixture)
    hf = transformers.AutoTokenizer.from_pretrained(str(directory))
    spec = describe_tokenizer(directory, scratch=tmp_path)
    assert spec.family == DIR_FAMILIES[fixture]
    assert all(path.parent == directory for path in spec.files.values())
    if spec.family == "wordpiece":
        assert spec.options["lowercase"] == hf.do_lower_case
        assert spec.options["strip_accents"] == hf.init_kwargs.get("strip_accents")
    elif spec.family == "albert":
        assert spec.options == {"lowercase": hf.do_lower_case, "keep_accents": hf.keep_accents}
    elif spec.family == "byte_level_bpe":
        assert spec.options == {"add_prefix_space": hf.add_prefix_space}
    assert list(tmp_path.iterdir()) == []  # nothing extracted when the classic files are there


@pytest.mark.parametrize("family", ["wordpiece", "albert", "xlm_roberta", "roberta"])
def test_loaded_tokenizer_has_hugging_face_special_tokens(family, family_dir, hf_tokenizer):
    tokenizer, hf = load_tokenizer(family_dir(family)), hf_tokenizer(family)
    special = tokenizer.special_tokens
    assert (special.start_id, special.end_id, special.padding_id, special.unknown_id, special.mask_id) == (
        hf.cls_token_id,
        hf.sep_token_id,
        hf.pad_token_id,
        hf.unk_token_id,
        hf.mask_token_id,
    )
    assert tokenizer.vocab_size == len(hf)
    assert tokenizer.packing_style == ("roberta" if family in ("xlm_roberta", "roberta") else "bert")


def test_explicit_files_detect_family_and_casing(
    bert_uncased_tokenizer_dir,
    bert_cased_tokenizer_dir,
    albert_tokenizer_dir,
    xlm_roberta_tokenizer_dir,
    roberta_tokenizer_dir,
    tmp_path,
):
    uncased = describe_tokenizer(vocab_file=bert_uncased_tokenizer_dir / "vocab.txt", scratch=tmp_path)
    cased = describe_tokenizer(vocab_file=bert_cased_tokenizer_dir / "vocab.txt", scratch=tmp_path)
    assert (uncased.family, uncased.options["lowercase"]) == ("wordpiece", True)
    assert (cased.family, cased.options["lowercase"]) == ("wordpiece", False)
    forced = describe_tokenizer(vocab_file=bert_cased_tokenizer_dir / "vocab.txt", do_lower_case=True, scratch=tmp_path)
    assert forced.options["lowercase"] is True
    albert = describe_tokenizer(sp_model_file=albert_tokenizer_dir / "spiece.model", scratch=tmp_path)
    assert (albert.family, albert.options) == ("albert", {"lowercase": True, "keep_accents": False})
    xlmr = describe_tokenizer(sp_model_file=xlm_roberta_tokenizer_dir / "sentencepiece.bpe.model", scratch=tmp_path)
    assert (xlmr.family, xlmr.options) == ("xlm_roberta", {})
    bpe = describe_tokenizer(
        vocab_file=roberta_tokenizer_dir / "vocab.json",
        merges_file=roberta_tokenizer_dir / "merges.txt",
        scratch=tmp_path,
    )
    assert (bpe.family, bpe.files["merges_file"].name) == ("byte_level_bpe", "merges.txt")


def test_tokenizer_json_alone_is_extracted_to_the_classic_files(
    bert_cased_tokenizer_dir, roberta_tokenizer_dir, tmp_path
):
    wordpiece_dir = copy_files(bert_cased_tokenizer_dir, tmp_path / "wp", ["tokenizer.json"])
    spec = describe_tokenizer(wordpiece_dir, scratch=tmp_path)
    assert spec.family == "wordpiece" and spec.options["lowercase"] is False
    assert spec.files["vocab_file"].read_text() == (bert_cased_tokenizer_dir / "vocab.txt").read_text()
    bpe_dir = copy_files(roberta_tokenizer_dir, tmp_path / "bpe", ["tokenizer.json"])
    scratch = tmp_path / "bpe_scratch"
    scratch.mkdir()
    spec = describe_tokenizer(bpe_dir, scratch=scratch)
    assert spec.family == "byte_level_bpe"
    original_vocab = json.loads((roberta_tokenizer_dir / "vocab.json").read_text(encoding="utf-8"))
    assert json.loads(spec.files["vocab_file"].read_text(encoding="utf-8")) == original_vocab
    original_merges = (roberta_tokenizer_dir / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert spec.files["merges_file"].read_text(encoding="utf-8").splitlines()[1:] == original_merges[1:]


def test_vocabulary_extracted_from_tokenizer_json_travels_as_an_asset(
    bert_uncased_tokenizer_dir, parity_lines, tmp_path
):
    source = copy_files(bert_uncased_tokenizer_dir, tmp_path / "only_json", ["tokenizer.json"])
    before = scratch_dirs()
    module = tf.Module()
    module.tokenizer = load_tokenizer(source)
    assert len(scratch_dirs() - before) == 1
    module.tokenize = tf.function(module.tokenizer.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / "saved"))
    del module
    gc.collect()
    assert scratch_dirs() - before == set()
    shutil.rmtree(source)
    assert (tmp_path / "saved" / "assets" / "vocab.txt").is_file()
    lines = text_without_special_tokens(parity_lines)[:100]
    hf = transformers.BertTokenizerFast(tokenizer_file=str(bert_uncased_tokenizer_dir / "tokenizer.json"))
    tokens = tf.saved_model.load(str(tmp_path / "saved")).tokenize(tf.constant(lines))
    assert tokens.to_list() == hf(lines, add_special_tokens=False)["input_ids"]


@pytest.fixture
def bad_dirs(tmp_path, albert_tokenizer_dir, roberta_tokenizer_dir):
    """name -> a broken tokenizer directory."""
    dirs = {"empty": tmp_path / "empty"}
    dirs["empty"].mkdir()
    dirs["gpt2"] = tmp_path / "gpt2"
    dirs["gpt2"].mkdir()
    (dirs["gpt2"] / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "GPT2Tokenizer"}))
    dirs["albert_without_model"] = copy_files(albert_tokenizer_dir, tmp_path / "albert", ["tokenizer_config.json"])
    dirs["unigram_json_only"] = tmp_path / "unigram"
    dirs["unigram_json_only"].mkdir()
    fast = transformers.AutoTokenizer.from_pretrained(str(albert_tokenizer_dir))
    fast.backend_tokenizer.save(str(dirs["unigram_json_only"] / "tokenizer.json"))
    dirs["broken_config"] = copy_files(roberta_tokenizer_dir, tmp_path / "broken", ["vocab.json", "merges.txt"])
    (dirs["broken_config"] / "tokenizer_config.json").write_text("{not json")
    dirs["roberta_without_merges"] = copy_files(
        roberta_tokenizer_dir, tmp_path / "nomerges", ["vocab.json", "tokenizer_config.json"]
    )
    return dirs


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty", r"found no known tokenizer file; expected vocab.txt"),
        ("gpt2", r"tokenizer_config.json: tokenizer_class GPT2Tokenizer is not supported"),
        ("albert_without_model", r"has no spiece.model"),
        ("unigram_json_only", r"found tokenizer.json with a Unigram model"),
        ("broken_config", r"cannot read .*tokenizer_config.json"),
        ("roberta_without_merges", r"has no vocab.json and merges.txt and no tokenizer.json with a BPE model"),
    ],
)
def test_bad_directories_raise_errors_naming_the_file(name, message, bad_dirs):
    with pytest.raises(TokenizerFilesError, match=message):
        load_tokenizer(bad_dirs[name])


def test_bad_flags_raise_errors_naming_the_flag(tmp_path, bert_uncased_tokenizer_dir, roberta_tokenizer_dir):
    vocab_json, merges = roberta_tokenizer_dir / "vocab.json", roberta_tokenizer_dir / "merges.txt"
    garbage = tmp_path / "garbage.model"
    garbage.write_bytes(b"not a sentencepiece model")
    cases = [
        (dict(tokenizer_dir=tmp_path / "missing"), r"--tokenizer_dir .*missing does not exist"),
        (dict(vocab_file=tmp_path / "missing.txt"), r"--vocab_file .*missing.txt does not exist"),
        (dict(vocab_file=vocab_json), r"pass its merges.txt as --merges_file"),
        (dict(merges_file=merges), r"--merges_file needs --vocab_file"),
        (dict(sp_model_file=garbage), r"--sp_model_file .*garbage.model is not a SentencePiece model"),
        (dict(sp_model_file=garbage, vocab_file=vocab_json), r"either --sp_model_file or --vocab_file"),
        (
            dict(tokenizer_dir=bert_uncased_tokenizer_dir, vocab_file=vocab_json),
            r"either --tokenizer_dir or --vocab_file",
        ),
        (
            dict(tokenizer_dir=roberta_tokenizer_dir, do_lower_case=True),
            r"--do_lower_case does not apply to byte-level BPE",
        ),
        ({}, r"pass --tokenizer_dir, --vocab_file"),
    ]
    for arguments, message in cases:
        with pytest.raises(TokenizerFilesError, match=message):
            load_tokenizer(**arguments)


def test_tokenizer_json_with_gaps_in_ids_is_refused(bert_uncased_tokenizer_dir, tmp_path):
    source = json.loads((bert_uncased_tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    source["model"]["vocab"]["gap_token"] = len(source["model"]["vocab"]) + 5
    (tmp_path / "gaps").mkdir()
    (tmp_path / "gaps" / "tokenizer.json").write_text(json.dumps(source), encoding="utf-8")
    with pytest.raises(TokenizerFilesError, match=r"tokenizer.json: token ids are not the contiguous range"):
        load_tokenizer(tmp_path / "gaps")
