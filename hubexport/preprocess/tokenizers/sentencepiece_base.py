"""What the in-graph SentencePiece tokenizers (ALBERT, XLM-RoBERTa) share."""

from __future__ import annotations

import pathlib

import tensorflow as tf

from hubexport.preprocess.models.sentencepiece.encoder import SentencePieceEncoder
from hubexport.preprocess.models.sentencepiece.model_file import SentencePieceModel
from hubexport.preprocess.models.sentencepiece.shards import map_in_shards
from hubexport.preprocess.tokenizers.base import InGraphTokenizer
from hubexport.preprocess.unicode_tables.python_whitespace import strip_pattern


class SentencePieceTokenizerBase(InGraphTokenizer):
    """Loads the SentencePiece model file and builds its in-graph encoder.

    The serialized model becomes a constant of the graph: no path to `model_file` is kept.
    """

    def __init__(self, model_file: str | pathlib.Path, name: str | None = None):
        super().__init__(name=name)
        self._model = SentencePieceModel.from_file(model_file)
        self._encoder = SentencePieceEncoder(self._model)
        self._strip = strip_pattern()

    def tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """UTF-8 strings [batch] -> int32 token ids [batch, (tokens)], no special tokens added.

        The whole pipeline runs on two shards of the batch, which TensorFlow runs in parallel:
        on an idle machine that beats one pass (sharding stage by stage costs more ops).
        """
        return map_in_shards(lambda shard: (self._tokenize_shard(shard),), strings)[0]

    def _tokenize_shard(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """`tokenize` of one shard of the batch."""
        raise NotImplementedError

    def _strip_whitespace(self, texts: tf.Tensor) -> tf.Tensor:
        """`str.strip()` of each string, with Python's whitespace set."""
        return tf.strings.regex_replace(texts, self._strip, "")
