"""In-graph SentencePiece tokenizers with HF's slow-tokenizer ids: ALBERT and XLM-RoBERTa.

The classes live in their own modules; this one gathers them under the name the rest of
hubexport imports.
"""
from hubexport.preprocess.albert_sentencepiece_tokenizer import AlbertSentencePieceTokenizer
from hubexport.preprocess.sentencepiece_base import SentencePieceTokenizerBase
from hubexport.preprocess.xlm_roberta_sentencepiece_tokenizer import (
    XlmRobertaSentencePieceTokenizer,
)

__all__ = [
    "AlbertSentencePieceTokenizer",
    "SentencePieceTokenizerBase",
    "XlmRobertaSentencePieceTokenizer",
]
