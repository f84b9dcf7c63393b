"""BPE SentencePiece models unlike the fixtures' XLM-R one, against HF's slow tokenizer.

The in-graph BPE path cuts printable-ASCII words into parts and caches them; these small models
reach its other branches: ASCII characters the model does not know (runs of them are one
`<unk>`, so words are never cut between two of them), and user-defined symbols with byte
fallback (such models are never cut; unknown characters become byte pieces). The reference is
`XLMRobertaTokenizer`, which runs the sentencepiece library on the same model file.
"""

from __future__ import annotations

import pathlib

import pytest
import sentencepiece as spm
import tensorflow as tf
from transformers import XLMRobertaTokenizer

from hubexport.preprocess.tokenizers.xlm_roberta import XlmRobertaSentencePieceTokenizer
from tests.fixtures.sentencepiece import evenly_spaced_lines

UNSEEN_ASCII = "~^|`"
TRAINING_LINES = 20_000
VARIANTS = {
    "unknown_ascii": {},
    "user_defined_bytes": {"user_defined_symbols": ["<br>", "::", "->"], "byte_fallback": True},
}
EXTRA_LINES = [
    "a~b ~~x^^y |pipe| `code` ~^|` x~ ~x ~ ^",
    "see <br> and a::b::c -> d<br>e ::: --> <br><br>",
    "unknown ~é~ and ⁂ and 𝔘𝔫𝔦 next to words~",
]


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request, tmp_path_factory, training_text_file) -> tuple[str, pathlib.Path, XLMRobertaTokenizer]:
    """A 3,000-piece BPE model in XLM-R's layout, trained on lines without `UNSEEN_ASCII`."""
    lines = [
        line
        for line in evenly_spaced_lines(training_text_file, TRAINING_LINES)
        if not any(c in line for c in UNSEEN_ASCII)
    ]
    prefix = tmp_path_factory.mktemp(request.param) / "bpe"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=str(prefix),
        model_type="bpe",
        vocab_size=3000,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=2,
        minloglevel=2,
        **VARIANTS[request.param],
    )
    model_file = prefix.with_suffix(".model")
    return request.param, model_file, XLMRobertaTokenizer(vocab_file=str(model_file))


def test_ids_match_the_slow_tokenizer(variant, parity_lines):
    name, model_file, slow = variant
    lines = [line for line in parity_lines + EXTRA_LINES if not any(t in line for t in slow.all_special_tokens)]
    expected = [slow.encode(line, add_special_tokens=False) for line in lines]
    tokenize = tf.function(
        XlmRobertaSentencePieceTokenizer(str(model_file)).tokenize,
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    # Twice: the second call finds the word parts of the first in the cache.
    for _ in range(2):
        got = tokenize(tf.constant(lines)).to_list()
        mismatches = [(line, g, e) for line, g, e in zip(lines, got, expected) if g != e]
        assert mismatches == [], f"{len(mismatches)} of {len(lines)} lines differ: {mismatches[:3]}"
    # The variants reach the branches they are for.
    first, second, third = (slow.convert_ids_to_tokens(ids) for ids in expected[-3:])
    if name == "unknown_ascii":
        assert first.count(slow.unk_token) >= 5, first
    else:
        assert {"<br>", "::", "->"} <= set(second), second
        assert any(token.startswith("<0x") for token in third), third
