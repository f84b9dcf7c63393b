"""The in-graph byte-level BPE tokenizer against Hugging Face's `RobertaTokenizerFast`.

Everything is compared with the `tokenizers` library (ids, offsets, decode, the pre-tokenizer's
split) on real text, on text the vocabulary was not trained on, on every Unicode code point and
on random text, plus a SavedModel round trip in a process without hubexport.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import unicodedata

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers.pre_tokenizers import PreTokenizer
from transformers import RobertaTokenizerFast
from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

from hubexport.preprocess.pre_tokenizers import byte_level
from hubexport.preprocess.tokenizers.byte_level_bpe import ByteLevelBpeTokenizer
from tests.support.text_strategies import utf8_text

# Literal special-token strings are out of scope (tokenized as plain text here, split out as
# control tokens by Hugging Face), so lines holding them are left out of the comparisons.
SPECIAL_STRINGS = ("<s>", "</s>", "<pad>", "<unk>", "<mask>")
STRING_BATCH = tf.TensorSpec([None], tf.string)
RAGGED_IDS = tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1, row_splits_dtype=tf.int64)
HF_BYTE_OF_CHAR = {char: byte for byte, char in bytes_to_unicode().items()}


def plain(lines: list[str]) -> list[str]:
    return [line for line in lines if not any(s in line for s in SPECIAL_STRINGS)]


def utf8_offsets(text: str, char_offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Hugging Face's character offsets as UTF-8 byte offsets."""
    byte_at = np.concatenate([[0], np.cumsum([len(c.encode("utf-8")) for c in text])])
    return [(int(byte_at[start]), int(byte_at[end])) for start, end in char_offsets]


def source_code_lines(limit: int = 3000) -> list[str]:
    """Lines of the standard library's own code: text the vocabulary was not trained on."""
    lines = []
    for path in sorted(pathlib.Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(lines) >= limit:
            return lines[:limit]
    return lines


class TokenizerFunctions(tf.Module):
    """A tokenizer with its methods traced once for a batch of strings, as a SavedModel holds it."""

    def __init__(self, tokenizer: ByteLevelBpeTokenizer):
        super().__init__()
        self.tokenizer = tokenizer
        self.tokenize = tf.function(tokenizer.tokenize, input_signature=[STRING_BATCH])
        self.tokenize_with_offsets = tf.function(tokenizer.tokenize_with_offsets, input_signature=[STRING_BATCH])
        self.detokenize = tf.function(tokenizer.detokenize, input_signature=[RAGGED_IDS])


@pytest.fixture(scope="module", params=[False, True], ids=["no_prefix", "prefix_space"])
def pair(request, roberta_tokenizer_dir):
    """(ours, Hugging Face's) for add_prefix_space False and True."""
    ours = ByteLevelBpeTokenizer(
        str(roberta_tokenizer_dir / "vocab.json"),
        str(roberta_tokenizer_dir / "merges.txt"),
        add_prefix_space=request.param,
    )
    hf = RobertaTokenizerFast.from_pretrained(str(roberta_tokenizer_dir), add_prefix_space=request.param)
    return TokenizerFunctions(ours), hf


@pytest.fixture(scope="module")
def hf_tokenizer(roberta_tokenizer_dir) -> RobertaTokenizerFast:
    return RobertaTokenizerFast.from_pretrained(str(roberta_tokenizer_dir))


@pytest.fixture(scope="module")
def ours(roberta_tokenizer_dir) -> TokenizerFunctions:
    return TokenizerFunctions(
        ByteLevelBpeTokenizer(str(roberta_tokenizer_dir / "vocab.json"), str(roberta_tokenizer_dir / "merges.txt"))
    )


def assert_same_encoding(ours: TokenizerFunctions, hf: RobertaTokenizerFast, lines: list[str]):
    """Ids and byte offsets of every line equal Hugging Face's (no special tokens added)."""
    ids, starts, ends = ours.tokenize_with_offsets(tf.constant(lines))
    expected = hf(lines, add_special_tokens=False, return_offsets_mapping=True)
    assert ids.to_list() == expected["input_ids"]
    assert ours.tokenize(tf.constant(lines)).to_list() == expected["input_ids"]
    offsets = [list(zip(s, e)) for s, e in zip(starts.to_list(), ends.to_list())]
    assert offsets == [utf8_offsets(line, mapping) for line, mapping in zip(lines, expected["offset_mapping"])]


def test_special_tokens_and_vocabulary(ours, hf_tokenizer):
    tokenizer = ours.tokenizer
    assert tokenizer.special_tokens.start_id == hf_tokenizer.cls_token_id == 0
    assert tokenizer.special_tokens.padding_id == hf_tokenizer.pad_token_id == 1
    assert tokenizer.special_tokens.end_id == hf_tokenizer.sep_token_id == 2
    assert tokenizer.special_tokens.unknown_id == hf_tokenizer.unk_token_id == 3
    assert tokenizer.special_tokens.mask_id == hf_tokenizer.mask_token_id == len(hf_tokenizer) - 1
    assert tokenizer.vocab_size == len(hf_tokenizer)
    assert tokenizer.packing_style == "roberta"


def test_parity_lines_match_hf(pair, parity_lines):
    assert_same_encoding(*pair, plain(parity_lines))


def test_unseen_source_code_matches_hf(pair):
    assert_same_encoding(*pair, plain(source_code_lines()))


def test_eager_call_matches_hf(pair):
    ours, hf = pair
    lines = ["  'sam said 'twas   're", "a a a a a", "", "x\u3000\u3000y \n\n z  "]
    ids = ours.tokenizer.tokenize(tf.constant(lines))
    assert ids.to_list() == hf(lines, add_special_tokens=False)["input_ids"]


def test_detokenize_matches_hf_decode(ours, hf_tokenizer, parity_lines):
    lines = plain(parity_lines)
    ids = hf_tokenizer(lines, add_special_tokens=False)["input_ids"]
    decoded = ours.detokenize(tf.ragged.constant(ids, tf.int32, row_splits_dtype=tf.int64))
    assert [s.decode("utf-8") for s in decoded.numpy()] == hf_tokenizer.batch_decode(ids)


def hf_pieces(pre_tokenizer: PreTokenizer, text: str) -> list[tuple[bytes, int, int]]:
    """Hugging Face's pre-tokenizer split as (raw bytes, start byte, end byte) per piece."""
    pieces = pre_tokenizer.pre_tokenize_str(text)
    offsets = utf8_offsets(text, [span for _, span in pieces])
    return [(bytes(HF_BYTE_OF_CHAR[c] for c in piece), start, end) for (piece, _), (start, end) in zip(pieces, offsets)]


def test_pretokenizer_matches_hf_on_corpus(hf_tokenizer, parity_lines):
    lines = parity_lines + source_code_lines()
    pieces, starts, ends = tf.function(byte_level.pretokenize_with_offsets)(tf.constant(lines))
    ours = [
        [piece for piece in zip(*row) if piece[0]]  # empty pieces hold no text
        for row in zip(pieces.to_list(), starts.to_list(), ends.to_list())
    ]
    reference = hf_tokenizer.backend_tokenizer.pre_tokenizer
    assert ours == [hf_pieces(reference, line) for line in lines]


def code_point_probes(group: int = 64) -> list[str]:
    """Every code point except surrogates in "a{c}1{c}!", whose split differs for letters,
    numbers, other characters and whitespace; plus all pairs of (Python's) whitespace and
    separator characters in runs, where the look-ahead of the GPT-2 pattern matters."""
    points = [chr(p) for p in range(0x110000) if not 0xD800 <= p < 0xE000]
    probes = ["".join(f"a{c}1{c}!" for c in points[i : i + group]) for i in range(0, len(points), group)]
    spaces = [c for c in points if c.isspace() or unicodedata.category(c).startswith("Z")]
    probes += [f"{u}{v}x {u}{v}'s{u}{u}{v}1 {v}{u}" for u in spaces for v in spaces]
    return probes


def test_pretokenizer_matches_hf_on_every_code_point(hf_tokenizer):
    pretokenize = tf.function(byte_level.pretokenize_with_offsets)
    reference = hf_tokenizer.backend_tokenizer.pre_tokenizer
    probes = code_point_probes()
    for i in range(0, len(probes), 4096):
        batch = probes[i : i + 4096]
        pieces, _, _ = pretokenize(tf.constant(batch))
        pieces = tf.ragged.boolean_mask(pieces, tf.strings.length(pieces) > 0)  # no text in them
        # Piece ends in characters, to compare with Hugging Face's offsets without a Python loop.
        char_ends = tf.math.cumsum(tf.strings.length(pieces, unit="UTF8_CHAR"), axis=1)
        hf_splits = [reference.pre_tokenize_str(text) for text in batch]
        assert pieces.row_lengths().numpy().tolist() == [len(split) for split in hf_splits]
        hf_ends = np.fromiter((end for split in hf_splits for _, (_, end) in split), np.int64)
        assert np.array_equal(char_ends.flat_values.numpy(), hf_ends)


TRICKY_TEXT = st.lists(
    st.sampled_from(
        [
            " ",
            "  ",
            "\n",
            "\t",
            "\r\n",
            "\u00a0",
            "\u3000",
            "\u2028",
            "'",
            "s",
            "re",
            "ll",
            "a",
            "Z",
            "1",
            "\u00bd",
            "!",
            "?",
            ".",
            "é",
            "e\u0301",
            "中",
            "😀",
            "\U0001f3fd",
            "\x00",
        ]
    ),
    max_size=20,
).map("".join)
ANY_TEXT = utf8_text(max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(TRICKY_TEXT, ANY_TEXT))
def test_random_text_matches_hf(pair, text):
    if any(s in text for s in SPECIAL_STRINGS):
        return
    ours, hf = pair
    assert_same_encoding(ours, hf, [text])
    ids = hf(text, add_special_tokens=False)["input_ids"]
    decoded = ours.detokenize(tf.ragged.constant([ids], tf.int32, row_splits_dtype=tf.int64))
    assert decoded.numpy()[0].decode("utf-8") == hf.decode(ids)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=40))
def test_invalid_utf8_does_not_fail(ours, raw):
    """Bytes that are no valid UTF-8 have no Hugging Face reference; they must still encode."""
    ids, starts, ends = ours.tokenize_with_offsets(tf.constant([raw]))
    assert ids.row_lengths().numpy().tolist() == starts.row_lengths().numpy().tolist()
    assert ids.row_lengths().numpy().tolist() == ends.row_lengths().numpy().tolist()
    assert all(0 <= s <= e <= len(raw) for s, e in zip(starts[0].numpy(), ends[0].numpy()))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_detokenize_random_ids_matches_hf(ours, hf_tokenizer, data):
    """Random ids, including byte tokens that cut characters apart (replaced by U+FFFD)."""
    ids = data.draw(st.lists(st.integers(0, len(hf_tokenizer) - 1), max_size=12))
    decoded = ours.detokenize(tf.ragged.constant([ids], tf.int32, row_splits_dtype=tf.int64))
    assert decoded.numpy()[0].decode("utf-8") == hf_tokenizer.decode(ids)


RELOAD_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (a consumer's usual import; this graph needs core ops only)

assert "hubexport" not in sys.modules

def run(path):
    model = tf.saved_model.load(path)
    lines = tf.constant(json.load(open(sys.argv[3], encoding="utf-8")))
    ids, starts, ends = model.tokenize_with_offsets(lines)
    return model, {
        "ids": model.tokenize(lines).to_list(),
        "offset_ids": ids.to_list(),
        "starts": starts.to_list(),
        "ends": ends.to_list(),
        "decoded": [s.decode("utf-8") for s in model.detokenize(ids).numpy()],
    }

model, first = run(sys.argv[1])
tf.saved_model.save(model, sys.argv[2])
del model
_, second = run(sys.argv[2])
json.dump({"first": first, "second": second}, sys.stdout)
"""


def test_savedmodel_round_trip_without_sources(roberta_tokenizer_dir, hf_tokenizer, parity_lines, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(roberta_tokenizer_dir / name, sources / name)
    module = TokenizerFunctions(ByteLevelBpeTokenizer(str(sources / "vocab.json"), str(sources / "merges.txt")))
    saved = tmp_path / "saved"
    tf.saved_model.save(module, str(saved))
    del module
    shutil.rmtree(sources)
    assert str(sources).encode() not in (saved / "saved_model.pb").read_bytes()

    lines = plain(parity_lines)[:300] + ["  'sam", "", "a a a a"]
    lines_file = tmp_path / "lines.json"
    lines_file.write_text(json.dumps(lines), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, str(saved), str(tmp_path / "again"), str(lines_file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout)
    expected = hf_tokenizer(lines, add_special_tokens=False, return_offsets_mapping=True)
    for run in (outputs["first"], outputs["second"]):
        assert run["ids"] == run["offset_ids"] == expected["input_ids"]
        assert [list(map(tuple, zip(s, e))) for s, e in zip(run["starts"], run["ends"])] == [
            utf8_offsets(line, mapping) for line, mapping in zip(lines, expected["offset_mapping"])
        ]
        assert run["decoded"] == hf_tokenizer.batch_decode(expected["input_ids"])
