"""One policy for input text that is not valid UTF-8, for every tokenizer: each invalid sequence becomes U+FFFD
as Python's `bytes.decode("utf-8", errors="replace")` makes it, so the ids equal Hugging Face's on that text."""

from __future__ import annotations

import pytest
import tensorflow as tf
import transformers
from hypothesis import given
from hypothesis import strategies as st

from hubexport.preprocess.normalizers.utf8 import replace_invalid_utf8

# Realistic damage: Latin-1 text, a cut multi-byte character, stray continuation bytes, an encoded
# surrogate, an overlong encoding, bytes that never occur in UTF-8, and a code point past U+10FFFF.
DAMAGED = [
    b"caf\xe9 au lait, na\xefve r\xe9sum\xe9",
    b"emoji cut short \xf0\x9f\x98 here",
    b"\x80\x81 stray continuation bytes \xbf",
    b"an encoded surrogate \xed\xa0\x80 inside",
    b"overlong slash \xc0\xaf and \xe0\x80\xaf",
    b"\xfe\xff never UTF-8 \xff",
    b"past the last code point \xf4\x90\x80\x80.",
    "valid text stays as it is: 中文, ünïcödé".encode(),
]


@given(raw=st.binary(max_size=64))
def test_replacement_equals_pythons_errors_replace(raw):
    repaired = replace_invalid_utf8(tf.constant([raw])).numpy()[0]
    assert repaired == raw.decode("utf-8", errors="replace").encode("utf-8")


@pytest.mark.parametrize("family", ["wordpiece", "roberta", "albert", "xlm_roberta"])
def test_every_tokenizer_gives_hugging_faces_ids_on_the_replaced_text(loaded_preprocessor, family_dir, family):
    """Against the tokenizer each in-graph one reproduces: the fast ones for WordPiece and byte-level BPE,
    the sentencepiece-backed slow ones for ALBERT and XLM-R."""
    use_fast = family in ("wordpiece", "roberta")
    preprocessor = loaded_preprocessor(family)
    reference = transformers.AutoTokenizer.from_pretrained(str(family_dir(family)), use_fast=use_fast)
    expected = [
        reference(raw.decode("utf-8", errors="replace"), add_special_tokens=False)["input_ids"] for raw in DAMAGED
    ]
    assert preprocessor.tokenize(tf.constant(DAMAGED)).to_list() == expected
    ids, starts, ends = preprocessor.tokenize_with_offsets(tf.constant(DAMAGED))
    assert ids.to_list() == expected
    repaired = [raw.decode("utf-8", errors="replace").encode("utf-8") for raw in DAMAGED]
    assert all(
        0 <= s <= e <= len(text)
        for text, row_s, row_e in zip(repaired, starts.to_list(), ends.to_list())
        for s, e in zip(row_s, row_e)
    )
    packed = preprocessor(tf.constant(DAMAGED))["input_word_ids"].numpy()
    assert packed[:, 1:3].tolist() == [row[:2] for row in expected]
