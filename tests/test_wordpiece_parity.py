"""The in-graph WordPiece tokenizer against Hugging Face `BertTokenizerFast` (the reference):
ids, byte offsets and detokenization on real text, normalization and splitting of every code
point, canonical reordering of marks, random text, and a SavedModel round trip."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import pathlib
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import PreTokenizedString
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer as HFBertPreTokenizer
from transformers import BertTokenizerFast

from hubexport.preprocess.pre_tokenizers.bert import BertPreTokenizer
from hubexport.preprocess.tokenizers import wordpiece_fast_path
from hubexport.preprocess.tokenizers.wordpiece import WordPieceTokenizer
from hubexport.preprocess.unicode_tables import bert_codec, bert_data
from tests.support.offsets import byte_offsets
from tests.support.text_strategies import utf8_text

# Out of scope (documented decision): HF splits literal special-token strings out of the text as
# control tokens; hubexport, like Model Garden, tokenizes them as plain text.
SPECIAL_STRINGS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")
STRINGS = tf.TensorSpec([None], tf.string)
CODE_POINTS_PER_LINE = 32
NORMALIZER_CONFIGS = {  # (lowercase, strip_accents, tokenize_chinese_chars)
    "uncased": (True, True, True),
    "cased": (False, False, True),
    "lowercase_only": (True, False, True),
    "strip_only_no_cjk": (False, True, False),
}
# Every code point for the configurations real checkpoints use; the two unusual ones (which
# share all tables) up to the end of the CJK planes plus the tag / variation-selector plane.
PROBED_RANGES = {
    "uncased": [(0, 0x110000)],
    "cased": [(0, 0x110000)],
    "lowercase_only": [(0, 0x30000), (0xE0000, 0xE1000)],
    "strip_only_no_cjk": [(0, 0x30000), (0xE0000, 0xE1000)],
}
HARD_LINES = [
    "",
    "   ",
    "a" * 100,
    "a" * 101,
    "é" * 100,
    "é" * 101,
    "ü" * 60 + " " + "ü" * 20,
    "é" * 25 + " " + "é" * 26 + " “" + "ü" * 25 + "”",
    "x" + "é" * 99 + " " + "y" * 30 + "é" * 70,
    "中" * 120,
    "İstanbul İİ ΣΑΣ ΌΣΟΣ ẞ ǅ ﬁ ﬃ",
    "\u3000ideographic\u00a0nbsp\u2028ls\u0085nel\u000bvt\u000cff\u200bzw\ufeffbom",
    "a\x00b\ufffdc\x7fd\u00ade",
    "x\u0301\U0001d16d\u0316\U0001d165 a\U0001d16d\U0001d165 \u1f82\U0001e015\u0741",
    "\U0001d160\U0001d165 \u0f73\u0f71 e\u0301\u0316\u0300 \ufb2c \u0344\u0345",
    "한국어 텍스트 각 힣 \u1100\u1161\u11a8",
    "emoji 👨‍👩‍👧 flag 🏳️‍🌈 ok",
    "𝐀𝐁𝐂 ℌ ㎒ Ⅻ ½ ² ⑳",
    "\U0002b820\U0002b920\U00030000 \U000e0041\U000e0100\U000f0000",
    "tab\tnewline\ncarriage\rreturn",
    "¿Qué? ¡Sí! «guillemets» „quotes“ — dash … ellipsis",
]


@dataclasses.dataclass
class Pair:
    """Our tokenizer (traced functions) and HF's, built from the same directory."""

    ours: WordPieceTokenizer
    hf: BertTokenizerFast
    tokenize: tf.types.experimental.ConcreteFunction
    tokenize_with_offsets: tf.types.experimental.ConcreteFunction
    detokenize: tf.types.experimental.ConcreteFunction


def _pair(directory: pathlib.Path, lowercase: bool) -> Pair:
    ours = WordPieceTokenizer(str(directory / "vocab.txt"), lowercase=lowercase)
    return Pair(
        ours=ours,
        hf=BertTokenizerFast.from_pretrained(str(directory)),
        tokenize=tf.function(ours.tokenize).get_concrete_function(STRINGS),
        tokenize_with_offsets=tf.function(ours.tokenize_with_offsets).get_concrete_function(STRINGS),
        detokenize=tf.function(ours.detokenize).get_concrete_function(tf.RaggedTensorSpec([None, None], tf.int32)),
    )


@pytest.fixture(scope="session", params=["uncased", "cased", "minilm"])
def pair(request) -> Pair:
    name = {"uncased": "bert_uncased", "cased": "bert_cased", "minilm": "minilm"}[request.param]
    return _pair(request.getfixturevalue(f"{name}_tokenizer_dir"), request.param != "cased")


@pytest.fixture(scope="session")
def uncased_pair(bert_uncased_tokenizer_dir) -> Pair:
    return _pair(bert_uncased_tokenizer_dir, True)


@pytest.fixture(scope="session")
def cased_pair(bert_cased_tokenizer_dir) -> Pair:
    return _pair(bert_cased_tokenizer_dir, False)


@pytest.fixture(scope="session")
def text_lines(parity_lines) -> list[str]:
    return [line for line in parity_lines if not any(s in line for s in SPECIAL_STRINGS)]


def ours_and_hf(pair: Pair, lines: list[str]):
    """[(ids, byte offsets)] per line from both tokenizers (ours: `tokenize_with_offsets`, after
    checking that `tokenize`, which skips the offset work, gives the same ids)."""
    ids, starts, ends = pair.tokenize_with_offsets(tf.constant(lines, tf.string))
    assert pair.tokenize(tf.constant(lines, tf.string)).to_list() == ids.to_list()
    ours = [(i, list(zip(s, e))) for i, s, e in zip(ids.to_list(), starts.to_list(), ends.to_list())]
    enc = pair.hf(lines, add_special_tokens=False, return_offsets_mapping=True)
    theirs = [(i, byte_offsets(line, o)) for line, i, o in zip(lines, enc["input_ids"], enc["offset_mapping"])]
    return ours, theirs


def assert_same_tokens(pair: Pair, lines: list[str]) -> None:
    ours, theirs = ours_and_hf(pair, lines)
    bad = [(line, o, t) for line, o, t in zip(lines, ours, theirs) if o != t]
    assert not bad, f"{len(bad)}/{len(lines)} lines differ, first: {bad[0]!r}"


def test_attributes_match_hf(pair):
    hf = pair.hf
    special = pair.ours.special_tokens
    assert (special.start_id, special.end_id) == (hf.cls_token_id, hf.sep_token_id)
    assert (special.padding_id, special.unknown_id) == (hf.pad_token_id, hf.unk_token_id)
    assert special.mask_id == hf.mask_token_id
    assert pair.ours.vocab_size == hf.vocab_size
    assert pair.ours.packing_style == "bert"


def test_parity_lines_ids_and_offsets(pair, text_lines):
    assert len(text_lines) > 4900
    assert_same_tokens(pair, text_lines)


def test_hard_lines_ids_and_offsets(pair):
    assert_same_tokens(pair, HARD_LINES)
    for line in HARD_LINES:  # alone, so the batch is not mixed with other lines
        assert_same_tokens(pair, [line])


def test_detokenize_matches_hf_decode(pair, text_lines):
    """HF ids of real text, plus random ids with special tokens mixed in (and a first `##`)."""
    hf = pair.hf
    rng = random.Random(0)
    specials = list(pair.ours.special_tokens.as_dict().values())

    def random_id() -> int:
        return rng.choice(specials) if rng.random() < 0.2 else rng.randrange(hf.vocab_size)

    sequences = hf(text_lines, add_special_tokens=False)["input_ids"]
    sequences += [[random_id() for _ in range(n)] for n in range(40)]
    text = pair.detokenize(tf.ragged.constant(sequences, tf.int32, row_splits_dtype=tf.int64))
    ours = [t.decode("utf-8") for t in text.numpy()]
    assert ours == [_hf_decode(hf, s) for s in sequences]


def _hf_decode(hf: BertTokenizerFast, ids: list[int]) -> str:
    return hf.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def _hf_normalizer(config: str) -> BertNormalizer:
    lowercase, strip_accents, chinese = NORMALIZER_CONFIGS[config]
    return BertNormalizer(
        clean_text=True,
        handle_chinese_chars=chinese,
        strip_accents=strip_accents,
        lowercase=lowercase,
    )


def _hf_words(normalizer, pre_tokenizer, line: str) -> list[str]:
    return [w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line))]


@pytest.mark.parametrize("config", NORMALIZER_CONFIGS)
def test_every_code_point_normalizes_and_splits_like_hf(config):
    """Each code point between letters and alone between spaces: the normalized words equal
    HF BertNormalizer + BertPreTokenizer's (a probe of the real Rust tables)."""
    normalizer, pre_tokenizer = _hf_normalizer(config), HFBertPreTokenizer()
    chars = [chr(c) for first, end in PROBED_RANGES[config] for c in range(first, end) if not 0xD800 <= c <= 0xDFFF]
    lines = [
        "".join(f"x{c}y {c} " for c in chars[i : i + CODE_POINTS_PER_LINE])
        for i in range(0, len(chars), CODE_POINTS_PER_LINE)
    ]
    split = tf.function(BertPreTokenizer(*NORMALIZER_CONFIGS[config]).split)
    ours = []
    for i in range(0, len(lines), 4096):
        words = split(tf.constant(lines[i : i + 4096])).words
        joined = tf.strings.reduce_join(words, 1, separator="\x1f").numpy()
        ours += [t.decode("utf-8") for t in joined]
    theirs = ["\x1f".join(_hf_words(normalizer, pre_tokenizer, line)) for line in lines]
    bad = [(lines[i], ours[i], theirs[i]) for i in range(len(lines)) if ours[i] != theirs[i]]
    assert not bad, f"{len(bad)} lines differ, first: {bad[0]!r}"


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_every_agreeing_code_point_takes_the_fast_path_like_hf(tmp_path, lowercase):
    """Each code point the fast path accepts, between letters and alone: ids and offsets equal
    HF's under a vocabulary holding every normalized character (alone and as `##` piece), so any
    difference in normalization or splitting changes the ids."""
    word, separator = wordpiece_fast_path.agreeing_code_points(lowercase, lowercase, True)
    chars = [chr(c) for c in np.union1d(word, separator)]
    normalizer = BertNormalizer(lowercase=lowercase)
    pieces = sorted({normalizer.normalize_str(c).strip() for c in chars} - {""})
    vocab = list(SPECIAL_STRINGS) + ["x", "##y"] + pieces + ["##" + p for p in pieces]
    (tmp_path / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    hf = BertTokenizerFast(str(tmp_path / "vocab.txt"), do_lower_case=lowercase)
    hf.save_pretrained(str(tmp_path))
    lines = [
        "".join(f"x{c}y {c} " for c in chars[i : i + CODE_POINTS_PER_LINE])
        for i in range(0, len(chars), CODE_POINTS_PER_LINE)
    ]
    agreeing_line, _ = wordpiece_fast_path.line_patterns(lowercase, lowercase, True)
    assert tf.strings.regex_full_match(lines, agreeing_line).numpy().all()
    assert_same_tokens(_pair(tmp_path, lowercase), lines)


def _hf_words_with_offsets(normalizer, pre_tokenizer, line: str) -> list[tuple[str, int, int]]:
    text = PreTokenizedString(line)
    text.normalize(lambda normalized: normalizer.normalize(normalized))
    pre_tokenizer.pre_tokenize(text)
    splits = text.get_splits(offset_referential="original", offset_type="char")
    return [(w, *byte_offsets(line, [span])[0]) for w, span, _ in splits]


@pytest.mark.parametrize("config", NORMALIZER_CONFIGS)
def test_canonical_reordering_of_marks_like_hf(config):
    """Runs of combining marks (kept and stripped), decomposing characters and starters: words
    and their source offsets equal HF's, whose NFD reorders marks and re-derives alignments."""
    marks = [
        c for first, last, _ in bert_codec.decode_values(bert_data.COMBINING_CLASSES) for c in range(first, last + 1)
    ]
    pool = marks + [0x1D15E, 0x1D160, 0x1E9E, 0x130, 0xE9, 0x41, 0x20, 0x3B, 0xE31, 0xF900, 0xAC01,
                    0x1F82, 0x344, 0xF73, 0x0, 0xAD, 0x3000, 0x4E00]  # fmt: skip
    rng = random.Random(1)
    lines = ["".join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    normalizer, pre_tokenizer = _hf_normalizer(config), HFBertPreTokenizer()
    result = BertPreTokenizer(*NORMALIZER_CONFIGS[config]).split(tf.constant(lines))
    words = iter(
        zip(
            result.words.flat_values.numpy(),
            result.source_starts.to_list(),
            result.source_ends.to_list(),
        )
    )
    ours = [
        [(w.decode("utf-8"), starts[0], ends[-1]) for w, starts, ends in itertools.islice(words, n)]
        for n in result.words.row_lengths().numpy()
    ]
    theirs = [_hf_words_with_offsets(normalizer, pre_tokenizer, line) for line in lines]
    bad = [(lines[i], ours[i], theirs[i]) for i in range(len(lines)) if ours[i] != theirs[i]]
    assert not bad, f"{len(bad)} lines differ, first: {bad[0]!r}"


TRICKY = (
    list("aZé\u0301\u0316İΣς中豈한\u3000\u00a0\t\n \x00\x85\u200b\ufeff\u00ad.,'-#¿“”…")
    + ["\U0001d165", "\U0001d16d", "\U0001d160", "\u1f82", "\U0001e015", "\u0f73"]
    + ["\U0002b820", "\U0002b920"]
)
RANDOM_TEXT = utf8_text(extra=TRICKY, max_size=80)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(RANDOM_TEXT, min_size=1, max_size=6))
def test_random_text_uncased(uncased_pair, lines):
    lines = [line for line in lines if not any(s in line for s in SPECIAL_STRINGS)]
    assert_same_tokens(uncased_pair, lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(RANDOM_TEXT, min_size=1, max_size=6))
def test_random_text_cased(cased_pair, lines):
    lines = [line for line in lines if not any(s in line for s in SPECIAL_STRINGS)]
    assert_same_tokens(cased_pair, lines)


@functools.cache
def _agreeing_text(config: tuple[bool, bool, bool]):
    """Lines of characters on which tf.text's fused op agrees with HF (the fast path), with some
    ASCII letters and spaces so that words have realistic lengths."""
    word, separator = wordpiece_fast_path.agreeing_code_points(*config)
    alphabet = st.one_of(
        st.sampled_from([chr(c) for c in word]),
        st.sampled_from([chr(c) for c in separator]),
        st.sampled_from(list("abcdefghij  ")),
    )
    return st.lists(st.text(alphabet=alphabet, max_size=60), min_size=1, max_size=6)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_agreeing_text_uncased(uncased_pair, data):
    assert_same_tokens(uncased_pair, data.draw(_agreeing_text((True, True, True))))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_agreeing_text_cased(cased_pair, data):
    assert_same_tokens(cased_pair, data.draw(_agreeing_text((False, False, True))))


def test_fast_path_routing():
    """Which lines the fused op may take (the rest is exact anyway; this pins the speed design)."""
    agreeing, long_word = (
        tf.function(lambda s, p=p: tf.strings.regex_full_match(s, p))
        for p in wordpiece_fast_path.line_patterns(True, True, True)
    )
    lines = ["Café “naïve” 中文 — ok", "so… on", "a\u200bb", "é" * 25, "é" * 26, "a\n" + "b" * 26]
    lines = tf.constant(lines)
    assert agreeing(lines).numpy().tolist() == [True, False, False, True, True, True]
    assert long_word(lines).numpy().tolist() == [False, False, False, False, True, True]


class _Exported(tf.Module):
    def __init__(self, tokenizer: WordPieceTokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    @tf.function(input_signature=[STRINGS])
    def tokenize(self, strings):
        return self.tokenizer.tokenize(strings)

    @tf.function(input_signature=[STRINGS])
    def tokenize_with_offsets(self, strings):
        return self.tokenizer.tokenize_with_offsets(strings)

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.int32)])
    def detokenize(self, ids):
        return self.tokenizer.detokenize(ids)


RELOAD_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops; hubexport is not imported)
assert "hubexport" not in sys.modules
lines = json.load(open(sys.argv[2], encoding="utf-8"))
model = tf.saved_model.load(sys.argv[1])
ids = model.tokenize(tf.constant(lines))
_, starts, ends = model.tokenize_with_offsets(tf.constant(lines))
text = model.detokenize(tf.cast(ids, tf.int32))
tf.saved_model.save(model, sys.argv[3])
again = tf.saved_model.load(sys.argv[3]).tokenize(tf.constant(lines))
print(json.dumps({"ids": ids.to_list(), "again": again.to_list(), "starts": starts.to_list(),
                  "ends": ends.to_list(), "text": [t.decode() for t in text.numpy()]}))
"""


def test_saved_model_round_trip(tmp_path, bert_uncased_tokenizer_dir, text_lines):
    source = tmp_path / "source_vocab_dir"
    shutil.copytree(bert_uncased_tokenizer_dir, source)
    export = tmp_path / "export"
    tokenizer = WordPieceTokenizer(str(source / "vocab.txt"), lowercase=True)
    tf.saved_model.save(_Exported(tokenizer), str(export))
    shutil.rmtree(source)
    assert str(source).encode() not in (export / "saved_model.pb").read_bytes()

    lines = text_lines[:200] + HARD_LINES
    (tmp_path / "lines.json").write_text(json.dumps(lines), encoding="utf-8")
    script = tmp_path / "reload.py"
    script.write_text(RELOAD_SCRIPT)
    command = [sys.executable, str(script), str(export), str(tmp_path / "lines.json")]
    out = subprocess.run(command + [str(tmp_path / "resaved")], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.splitlines()[-1])
    hf = BertTokenizerFast.from_pretrained(str(bert_uncased_tokenizer_dir))
    enc = hf(lines, add_special_tokens=False, return_offsets_mapping=True)
    assert got["ids"] == enc["input_ids"]
    assert got["again"] == enc["input_ids"]
    offsets = [byte_offsets(line, o) for line, o in zip(lines, enc["offset_mapping"])]
    assert [list(zip(s, e)) for s, e in zip(got["starts"], got["ends"])] == offsets
    assert got["text"] == [_hf_decode(hf, ids) for ids in enc["input_ids"]]
