"""What a model card says about preprocessing, read off the preprocessor module that is exported.

Casing and accent handling are probed by tokenizing the same words spelled two ways with the
module's own traced `tokenize`: the card then describes what the exported graph does, whatever
options the tokenizer was built with.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from hubexport.preprocess.preprocessor_module import PreprocessorModule
from hubexport.runtime_options import graph_optimization_off

TOKENIZER_KINDS = {
    "WordPieceTokenizer": "WordPiece (BERT: basic tokenizer, then `##` continuation pieces)",
    "ByteLevelBpeTokenizer": "byte-level BPE (RoBERTa / GPT-2: bytes mapped to unicode, merges by rank)",
    "AlbertSentencePieceTokenizer": "SentencePiece (ALBERT normalization)",
    "XlmRobertaSentencePieceTokenizer": "SentencePiece (XLM-R, fairseq id layout)",
}
PACKING = {
    "bert": "[CLS] A [SEP] B [SEP]; input_type_ids 0 for [CLS] A [SEP], 1 for B [SEP]",
    "roberta": "<s> A </s></s> B </s>; input_type_ids all 0",
}
CASE_PROBE = ("HELLO World, This Is Text", "hello world, this is text")
ACCENT_PROBE = ("café naïve façade", "cafe naive facade")


def describe_preprocessor(module: PreprocessorModule) -> dict[str, Any]:
    """JSON-ready facts for the card's preprocessing section (stored under "preprocessing")."""
    tokenizer = module.tokenizer
    special_tokens = dict(module.special_tokens_values())
    special_tokens.pop("vocab_size")
    return {
        "tokenizer": TOKENIZER_KINDS.get(tokenizer.scheme, tokenizer.scheme),
        "lowercases": _same_ids(module, CASE_PROBE),
        "strips_accents": _same_ids(module, ACCENT_PROBE),
        "vocab_size": tokenizer.vocab_size,
        "special_tokens": special_tokens,
        "packing": PACKING[tokenizer.packing_style],
        "default_seq_length": module.default_seq_length,
        "truncation": module.truncation,
        "added_tokens": [
            {"content": token.content, "id": token.id, **token.flags()} for token in tokenizer.added_tokens
        ],
        "split_special_tokens": tokenizer.split_special_tokens,
    }


def _same_ids(module: PreprocessorModule, spellings: tuple[str, str]) -> bool:
    """True if both spellings tokenize to the same ids."""
    with graph_optimization_off():
        first, second = module.tokenize(tf.constant(spellings)).to_list()
    return first == second
