"""What the in-graph SentencePiece tokenizers (ALBERT, XLM-RoBERTa) share."""
from __future__ import annotations

import pathlib

import tensorflow as tf

from hubexport.preprocess.sentencepiece_encoding import SentencePieceEncoder
from hubexport.preprocess.sentencepiece_model import SentencePieceModel
from hubexport.preprocess.sentencepiece_unicode import strip_pattern
from hubexport.preprocess.tokenizer import InGraphTokenizer


class SentencePieceTokenizerBase(InGraphTokenizer):
    """Loads the SentencePiece model file and builds its in-graph encoder.

    The serialized model becomes a constant of the graph: no path to `model_file` is kept.
    """

    def __init__(self, model_file: str | pathlib.Path, name: str | None = None):
        super().__init__(name=name)
        self._model = SentencePieceModel.from_file(model_file)
        self._encoder = SentencePieceEncoder(self._model)
        self._strip = strip_pattern()

    def _strip_whitespace(self, texts: tf.Tensor) -> tf.Tensor:
        """`str.strip()` of each string, with Python's whitespace set."""
        return tf.strings.regex_replace(texts, self._strip, "")
