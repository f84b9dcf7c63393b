"""Added and special tokens in the text: ids (and offsets) equal Hugging Face's slow and fast tokenizers
built from the same directory (tests/fixtures/added_tokens.py), for every tokenizer kind.

Where HF's own two tokenizers disagree we follow one of them, and say which:

- WordPiece and byte-level BPE follow the fast tokenizer (`tokenizers`' AddedVocabulary). The slow
  one differs on `single_word` tokens (it glues the token to a neighbouring piece of text whenever
  that piece does not end or start with a space, even beside punctuation) and, for uncased BERT,
  lowercases non-special tokens that are not `normalized` so they never match.
- ALBERT and XLM-R follow the slow (sentencepiece) tokenizer, as their in-graph tokenizers do on
  plain text: the text between two added tokens is encoded by SentencePiece as a text of its own.
  The fast one runs its Metaspace pre-tokenizer on such a piece and emits an extra "▁" when the
  piece ends in a space before an added token ("a (b)": slow `▁a ( ▁b )`, fast `▁a ▁ ( ▁b )`).
  Except for `single_word` tokens, which follow the fast rule for every kind (a match beside a
  word character is text): they are compared with the fast tokenizer on lines where no text piece
  ends in a space before a token, where its Metaspace quirk does not arise.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import tensorflow as tf
import transformers

from hubexport.model_cards.card import render_model_card
from hubexport.model_cards.preprocessing_facts import describe_preprocessor
from hubexport.preprocess.preprocessor_module import PreprocessorModule
from hubexport.preprocess.tokenizer_files import load_tokenizer
from tests.fixtures.added_tokens import SINGLE_WORD, lines_with_tokens, token_strings
from tests.support.offsets import byte_offsets

FAMILIES = ["wordpiece", "albert", "xlm_roberta", "roberta"]
SLOW = {
    "wordpiece": transformers.BertTokenizer,
    "albert": transformers.AlbertTokenizer,
    "xlm_roberta": transformers.XLMRobertaTokenizer,
    "roberta": transformers.RobertaTokenizer,
}
FOLLOWS_SLOW = {"albert", "xlm_roberta"}
STRINGS = tf.TensorSpec([None], tf.string)
CORPUS_LINES = 1500
GENERATED_LINES = 600


class Case:
    """Our tokenizer (traced) and HF's slow and fast ones, all from one directory."""

    def __init__(self, family: str, directory: pathlib.Path, split_special_tokens: bool = False):
        self.family = family
        self.directory = directory
        ours = load_tokenizer(directory, split_special_tokens=split_special_tokens)
        self.ours = ours
        self.tokenize = tf.function(ours.tokenize).get_concrete_function(STRINGS)
        self.tokenize_with_offsets = tf.function(ours.tokenize_with_offsets).get_concrete_function(STRINGS)
        self.slow = SLOW[family].from_pretrained(str(directory))
        self.fast = transformers.AutoTokenizer.from_pretrained(str(directory), use_fast=True)


@pytest.fixture(scope="module", params=FAMILIES)
def case(request, added_tokens_dir) -> Case:
    return Case(request.param, added_tokens_dir(request.param))


@pytest.fixture(scope="module")
def lines(case, parity_lines) -> list[str]:
    return parity_lines[:CORPUS_LINES] + lines_with_tokens(case.family, parity_lines, GENERATED_LINES)


def hf_ids(tokenizer, lines: list[str], **options) -> list[list[int]]:
    return [tokenizer(line, add_special_tokens=False, **options)["input_ids"] for line in lines]


def test_directory_tokens_are_read_as_hugging_face_reads_them(case):
    ours = {token.content: token for token in case.ours.added_tokens}
    for token_id, theirs in case.fast.added_tokens_decoder.items():
        token = ours[theirs.content]
        assert token.id == token_id
        assert (token.special, token.lstrip, token.rstrip, token.single_word, token.normalized) == (
            theirs.special,
            theirs.lstrip,
            theirs.rstrip,
            theirs.single_word,
            theirs.normalized,
        ), theirs.content
    assert case.ours.vocab_size == len(case.fast)


def test_ids_equal_hugging_face(case, lines):
    ours = case.tokenize(tf.constant(lines)).to_list()
    slow, fast = hf_ids(case.slow, lines), hf_ids(case.fast, lines)
    followed, other = (slow, fast) if case.family in FOLLOWS_SLOW else (fast, slow)
    checked = [i for i, line in enumerate(lines) if case.family not in FOLLOWS_SLOW or SINGLE_WORD not in line.lower()]
    assert len(checked) > 0.8 * len(lines)
    mismatches = [(lines[i], ours[i], followed[i]) for i in checked if ours[i] != followed[i]]
    assert not mismatches, mismatches[:3]
    agreeing = [i for i in checked if slow[i] == fast[i]]
    assert len(agreeing) > 0.5 * len(lines)  # ALBERT's slow and fast differ around the symbols on ~40% of lines
    assert all(ours[i] == other[i] for i in agreeing)
    with_tokens = [line for line in lines[CORPUS_LINES:] if any(t in line for t in token_strings(case.family))]
    assert len(with_tokens) > 0.9 * GENERATED_LINES


def test_single_word_tokens_follow_the_fast_rule(case, parity_lines):
    """`SINGLE_WORD` is a single_word token: beside a letter, digit or underscore it is text, beside
    punctuation or at the end it is the token (no text piece ends in a space before a token)."""
    words = [word for line in parity_lines[:300] for word in line.split() if word.isalpha()]
    glue = ["", ",", ";", "!", "1", "_", "é"]
    lines = [
        f"{words[i]}{glue[i % 7]}{SINGLE_WORD}{glue[(i // 7) % 7]}{words[i + 1]},{SINGLE_WORD}{glue[i % 5]}"
        for i in range(0, min(len(words) - 1, 400), 2)
    ]
    ours = case.tokenize(tf.constant(lines)).to_list()
    assert ours == hf_ids(case.fast, lines)
    token_id = case.fast.convert_tokens_to_ids(SINGLE_WORD)
    counts = {(ids.count(token_id), line.count(SINGLE_WORD)) for ids, line in zip(ours, lines)}
    assert {found < written for found, written in counts} == {True, False}  # text in some lines only


def test_offsets(case, lines):
    """WordPiece and byte-level BPE: HF fast's offsets. SentencePiece kinds keep their own offset
    convention for text (tested in test_sentencepiece_parity); an added token's span is its text
    (with the whitespace it strips), which is checked against the input itself."""
    ids, starts, ends = case.tokenize_with_offsets(tf.constant(lines))
    assert ids.to_list() == case.tokenize(tf.constant(lines)).to_list()
    added = {token.id: token for token in case.ours.added_tokens}
    unknown = added[case.ours.special_tokens.unknown_id]
    if case.family in FOLLOWS_SLOW:
        for line, line_ids, line_starts, line_ends in zip(lines, ids.to_list(), starts.to_list(), ends.to_list()):
            data = line.encode("utf-8")
            for token_id, start, end in zip(line_ids, line_starts, line_ends):
                # Ids SentencePiece cannot make from text: specials (control symbols) and added ids.
                from_split = token_id >= case.ours.tokenizer.vocab_size or added.get(token_id, unknown).special
                if token_id in added and token_id != unknown.id and from_split:
                    span = data[start:end].decode("utf-8")
                    assert span.strip().lower() == added[token_id].content.lower(), (line, span)
        return
    enc = case.fast(lines, add_special_tokens=False, return_offsets_mapping=True)
    theirs = [byte_offsets(line, offsets) for line, offsets in zip(lines, enc["offset_mapping"])]
    ours = [list(zip(s, e)) for s, e in zip(starts.to_list(), ends.to_list())]
    mismatches = [(line, o, t) for line, o, t in zip(lines, ours, theirs) if o != t]
    assert not mismatches, mismatches[:3]


def test_split_special_tokens(family_split_case, parity_lines):
    """`split_special_tokens=True`: special tokens are text; the fast tokenizer's option of that name
    (its slow one also stops recognising non-special added tokens, so SentencePiece kinds, which
    follow the slow one, are compared on lines without those)."""
    case = family_split_case
    lines = lines_with_tokens(case.family, parity_lines, 800, seed=5)
    ours = case.tokenize(tf.constant(lines)).to_list()
    if case.family in FOLLOWS_SLOW:
        specials = set(case.slow.all_special_tokens)
        plain_added = [t for t in token_strings(case.family) if t not in specials]
        keep = [i for i, line in enumerate(lines) if not any(t in line.lower() for t in plain_added)]
        assert len(keep) > 60
        theirs = hf_ids(case.slow, [lines[i] for i in keep], split_special_tokens=True)
        assert [ours[i] for i in keep] == theirs
    else:
        assert ours == hf_ids(case.fast, lines, split_special_tokens=True)
    assert any("[MASK]" in line or "<mask>" in line for line in lines)


@pytest.fixture(scope="module", params=["wordpiece", "albert"])
def family_split_case(request, added_tokens_dir) -> Case:
    return Case(request.param, added_tokens_dir(request.param), split_special_tokens=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_fill_mask_text_gets_the_mask_id(family, family_dir):
    """The plain family directories (no added tokens beyond the specials): the mask token in text."""
    directory = family_dir(family)
    tokenizer = load_tokenizer(directory)
    mask = "[MASK]" if family in ("wordpiece", "albert") else "<mask>"
    texts = [f"Paris is the {mask} of France.", f"{mask}", f"two{mask}{mask} masks {mask}", "no mask here"]
    ours = tokenizer.tokenize(tf.constant(texts)).to_list()
    hf = SLOW[family].from_pretrained(str(directory))
    assert ours == hf_ids(hf, texts)
    assert ours == hf_ids(transformers.AutoTokenizer.from_pretrained(str(directory), use_fast=True), texts)
    assert ours[0].count(tokenizer.special_tokens.mask_id) == 1


def test_split_special_tokens_is_recorded_for_hubexport_json_and_the_card(roberta_tokenizer_dir):
    """The preprocessing facts (what hubexport.json and the card are written from) and the card line."""
    module = PreprocessorModule(load_tokenizer(roberta_tokenizer_dir, split_special_tokens=True))
    facts = describe_preprocessor(module)
    assert facts["split_special_tokens"] is True
    mask = next(token for token in facts["added_tokens"] if token["content"] == "<mask>")
    assert (mask["id"], mask["special"], mask["lstrip"]) == (module.tokenizer.special_tokens.mask_id, True, True)
    card = render_model_card("preprocessor", {"preprocessing": facts}, "exports/roberta_preprocessor")
    assert "special tokens among them are tokenized as plain text (split_special_tokens)" in card


def test_cli_passes_split_special_tokens_to_the_api(tmp_path):
    """The flag exists and reaches the API, which refuses it where no tokenizer is exported."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = ["--export_type=encoder_with_mlm", "--preset=bert_base_en_uncased", "--split_special_tokens"]
    result = subprocess.run(
        [sys.executable, "-m", "hubexport.export_main", *command, "--export_dir=out"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2
    assert "--split_special_tokens does not apply to --export_type=encoder_with_mlm" in result.stderr
