"""Parity of the in-graph SentencePiece tokenizers (ALBERT, XLM-R) with HF's slow tokenizers.

The references are `AlbertTokenizer` / `XLMRobertaTokenizer`, which run the sentencepiece
library the models were trained with, loaded from the session's trained tokenizer directories.
Lines holding a literal special-token string ("[CLS]", "<s>", ...) are left out everywhere: HF
splits those out as control tokens, hubexport tokenizes them as plain text (documented decision,
as Model Garden does).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import random
import shutil
import subprocess
import sys
import textwrap

import pytest
import sentencepiece as spm
import tensorflow as tf
from hypothesis import assume, given, settings
from transformers import (
    AlbertTokenizer,
    AlbertTokenizerFast,
    PreTrainedTokenizer,
    XLMRobertaTokenizer,
    XLMRobertaTokenizerFast,
)

from hubexport.preprocess.tokenizers.albert import AlbertSentencePieceTokenizer
from hubexport.preprocess.tokenizers.sentencepiece_base import SentencePieceTokenizerBase
from hubexport.preprocess.tokenizers.xlm_roberta import XlmRobertaSentencePieceTokenizer
from tests.support.text_strategies import utf8_text

STRING_BATCH = [tf.TensorSpec([None], tf.string)]
ID_BATCH = [tf.RaggedTensorSpec([None, None], tf.int32, row_splits_dtype=tf.int64)]
# Characters around which the references have special rules, mixed into the random text.
TRICKY = list(" \t\n\u3000\u00a0\u200b`',.9\u2172\U0001d6ba\u03a3\u0130e\u0301\u2581\x00\x1c\u2028")


class TokenizerModule(tf.Module):
    """A tokenizer's methods as traced functions, as an exporter would hold them."""

    def __init__(self, tokenizer: SentencePieceTokenizerBase):
        super().__init__()
        self.tokenizer = tokenizer
        self.tokenize = tf.function(tokenizer.tokenize, input_signature=STRING_BATCH)
        self.tokenize_with_offsets = tf.function(tokenizer.tokenize_with_offsets, input_signature=STRING_BATCH)
        self.detokenize = tf.function(tokenizer.detokenize, input_signature=ID_BATCH)


@dataclasses.dataclass
class Case:
    name: str
    directory: pathlib.Path
    model_file: pathlib.Path
    slow: PreTrainedTokenizer
    fast_class: type
    module: TokenizerModule
    _parity: tuple[list[str], list[list[int]]] | None = None

    def usable(self, lines: list[str]) -> list[str]:
        """`lines` without special-token strings (out of scope, see module docstring), also those
        that appear only once HF lowercased the text ("<UNK>" for ALBERT)."""
        lowercase = getattr(self.slow, "do_lower_case", False)
        specials = self.slow.all_special_tokens
        return [line for line in lines if not any(t in line or (lowercase and t in line.lower()) for t in specials)]

    def reference_ids(self, lines: list[str]) -> list[list[int]]:
        return [self.slow.encode(line, add_special_tokens=False) for line in lines]

    def parity(self, parity_lines: list[str]) -> tuple[list[str], list[list[int]]]:
        """The usable parity lines and their reference ids, computed once per case."""
        if self._parity is None:
            lines = self.usable(parity_lines)
            self._parity = lines, self.reference_ids(lines)
        return self._parity


def _case(name, directory, model_name, slow_class, fast_class, make) -> Case:
    model_file = directory / model_name
    return Case(
        name=name,
        directory=directory,
        model_file=model_file,
        slow=slow_class.from_pretrained(str(directory)),
        fast_class=fast_class,
        module=TokenizerModule(make(str(model_file))),
    )


@pytest.fixture(scope="module")
def albert(albert_tokenizer_dir) -> Case:
    return _case(
        "albert",
        albert_tokenizer_dir,
        "spiece.model",
        AlbertTokenizer,
        AlbertTokenizerFast,
        AlbertSentencePieceTokenizer,
    )


@pytest.fixture(scope="module")
def xlm_roberta(xlm_roberta_tokenizer_dir) -> Case:
    return _case(
        "xlm_roberta",
        xlm_roberta_tokenizer_dir,
        "sentencepiece.bpe.model",
        XLMRobertaTokenizer,
        XLMRobertaTokenizerFast,
        XlmRobertaSentencePieceTokenizer,
    )


@pytest.fixture(scope="module", params=["albert", "xlm_roberta"])
def case(request) -> Case:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def lines_and_ids(case, parity_lines) -> tuple[list[str], list[list[int]]]:
    return case.parity(parity_lines)


def test_special_tokens_and_vocab_size_follow_the_reference(case):
    ours = case.module.tokenizer
    slow = case.slow
    assert ours.vocab_size == slow.vocab_size
    assert ours.special_tokens.start_id == slow.cls_token_id
    assert ours.special_tokens.end_id == slow.sep_token_id
    assert ours.special_tokens.padding_id == slow.pad_token_id
    assert ours.special_tokens.unknown_id == slow.unk_token_id
    assert ours.special_tokens.mask_id == slow.mask_token_id
    assert ours.packing_style == ("bert" if case.name == "albert" else "roberta")


def test_ids_match_the_slow_tokenizer_on_every_parity_line(case, lines_and_ids):
    lines, expected = lines_and_ids
    assert len(lines) > 4900
    # Twice: the second call finds the words of the first in the BPE word cache.
    for _ in range(2):
        got = case.module.tokenize(tf.constant(lines)).to_list()
        mismatches = [(line, g, e) for line, g, e in zip(lines, got, expected) if g != e]
        assert mismatches == [], f"{len(mismatches)} of {len(lines)} lines differ: {mismatches[:3]}"

    fast = case.fast_class.from_pretrained(str(case.directory))
    fast_ids = fast(lines, add_special_tokens=False)["input_ids"]
    agreement = sum(f == e for f, e in zip(fast_ids, expected)) / len(lines)
    print(f"\n{case.fast_class.__name__} agrees with the slow one on {agreement:.2%} of lines")


def test_offsets_come_with_the_same_ids_and_are_ordered_spans(case, lines_and_ids):
    lines, expected = lines_and_ids
    ids, starts, ends = case.module.tokenize_with_offsets(tf.constant(lines))
    assert ids.to_list() == expected
    for line, start, end in zip(lines, starts.to_list(), ends.to_list()):
        size = len(line.encode())
        assert all(0 <= s <= e <= size for s, e in zip(start, end)), line
        assert start == sorted(start) and end == sorted(end), line


def test_albert_offsets_cover_the_text_of_each_token(albert, parity_lines):
    """Tokenizing a token's span again with the reference gives back the token's text (one
    source character can make several tokens, e.g. `½` -> `1`, `⁄`, `2`)."""
    lines, expected = albert.parity(parity_lines)
    lines, expected = lines[:800], expected[:800]
    _, starts, ends = albert.module.tokenize_with_offsets(tf.constant(lines))
    unknown = albert.slow.unk_token_id
    for line, ids, start, end in zip(lines, expected, starts.to_list(), ends.to_list()):
        data = line.encode()
        for token, s, e in zip(ids, start, end):
            if token == unknown:
                continue
            piece = albert.slow.convert_ids_to_tokens(token).replace("\u2581", "")
            again = "".join(albert.slow.tokenize(data[s:e].decode())).replace("\u2581", "")
            assert piece in again, (line, piece, data[s:e])


def test_xlm_roberta_offsets_are_sentencepieces_own(xlm_roberta, parity_lines):
    """On lines whose only whitespace is U+0020, the offsets are those sentencepiece reports.
    (Words are split at U+0020 only, so a tab or other space next to a word is counted in that
    word's first piece: a documented difference.)"""
    lines = [line for line in xlm_roberta.usable(parity_lines) if not any(c.isspace() and c != " " for c in line)]
    assert len(lines) > 4500
    processor = spm.SentencePieceProcessor(model_file=str(xlm_roberta.model_file))
    _, starts, ends = xlm_roberta.module.tokenize_with_offsets(tf.constant(lines))
    for line, start, end in zip(lines, starts.to_list(), ends.to_list()):
        pieces = processor.encode(line, return_type="proto").pieces
        assert list(zip(start, end)) == [(p.begin, p.end) for p in pieces], line


def test_detokenize_matches_hf_decode(case, lines_and_ids):
    lines, expected = lines_and_ids
    rng = random.Random(0)
    special = case.slow.all_special_ids
    random_ids = [
        [
            rng.choice(special) if rng.random() < 0.3 else rng.randrange(case.slow.vocab_size)
            for _ in range(rng.randrange(0, 12))
        ]
        for _ in range(500)
    ]
    sequences = expected + random_ids
    ragged = tf.ragged.constant(sequences, dtype=tf.int32, row_splits_dtype=tf.int64)
    got = [text.decode() for text in case.module.detokenize(ragged).numpy()]
    want = [case.slow.decode(ids) for ids in sequences]
    mismatches = [(ids, g, w) for ids, g, w in zip(sequences, got, want) if g != w]
    assert mismatches == [], mismatches[:3]


@settings(max_examples=150, deadline=None)
@given(text=utf8_text(extra=TRICKY, max_size=48))
def test_random_text_matches_the_slow_tokenizer(case, text):
    assume(case.usable([text]))
    expected = case.slow.encode(text, add_special_tokens=False)
    assert case.module.tokenize(tf.constant([text])).to_list() == [expected]
    ids, starts, ends = case.module.tokenize_with_offsets(tf.constant([text]))
    assert ids.to_list() == [expected]
    assert case.module.detokenize(ids).numpy()[0].decode() == case.slow.decode(expected)


RELOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops; hubexport is not importable here)

    lines = json.loads(sys.stdin.read())
    out = {}
    for name, first, second in json.loads(sys.argv[1]):
        loaded = tf.saved_model.load(first)
        tf.saved_model.save(loaded, second)
        again = tf.saved_model.load(second)
        ids = loaded.tokenize(tf.constant(lines))
        out[name] = {
            "ids": ids.to_list(),
            "ids_after_second_save": again.tokenize(tf.constant(lines)).to_list(),
            "text": [t.decode() for t in again.detokenize(ids).numpy()],
            "hubexport_imported": "hubexport" in sys.modules,
        }
    print(json.dumps(out))
    """
)


def test_saved_model_round_trip_without_the_sources(albert, xlm_roberta, parity_lines, tmp_path):
    cases = [albert, xlm_roberta]
    sources = tmp_path / "sources"
    sources.mkdir()
    saves = []
    for case in cases:
        model_copy = sources / f"{case.name}_{case.model_file.name}"
        shutil.copy(case.model_file, model_copy)
        tokenizer = type(case.module.tokenizer)(str(model_copy))
        first, second = tmp_path / f"{case.name}_1", tmp_path / f"{case.name}_2"
        tf.saved_model.save(TokenizerModule(tokenizer), str(first))
        assert str(sources).encode() not in (first / "saved_model.pb").read_bytes()
        saves.append((case.name, str(first), str(second)))
    shutil.rmtree(sources)

    lines = albert.usable(xlm_roberta.usable(parity_lines))[::25]
    result = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, json.dumps(saves)],
        input=json.dumps(lines),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    out = json.loads(result.stdout)
    for case in cases:
        expected = case.reference_ids(lines)
        got = out[case.name]
        assert not got["hubexport_imported"]
        assert got["ids"] == expected
        assert got["ids_after_second_save"] == expected
        assert got["text"] == [case.slow.decode(ids) for ids in expected]
