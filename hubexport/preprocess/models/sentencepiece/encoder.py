"""SentencePiece encoding of a batch of texts inside the graph, with the reference's exact ids.

Every strategy gives the ids `SentencePieceProcessor.encode` (sentencepiece 0.2.x) gives:

- unigram models: `unigram.UnigramEncoder`;
- BPE models with SentencePiece's default whitespace handling (see
  `SentencePieceModel.encodes_words_independently`): `bpe_words.BpeWordEncoder`;
- other BPE models: `tensorflow_text.SentencepieceTokenizer` line by line.

Offsets are byte offsets [start, end) into each text, in SentencePiece's own convention: a piece
that begins with "▁" covers the whitespace before its word (it starts where the previous piece
ends), and the "▁" that SentencePiece adds in front of a text is zero-width. They are computed in
parallel shards of the batch.
"""

from __future__ import annotations

import tensorflow as tf

from hubexport.preprocess.models.sentencepiece.bpe_words import BpeWordEncoder
from hubexport.preprocess.models.sentencepiece.model_file import SentencePieceModel, in_graph_sentencepiece
from hubexport.preprocess.models.sentencepiece.shards import map_in_shards
from hubexport.preprocess.models.sentencepiece.unigram import UnigramEncoder


class SentencePieceEncoder(tf.Module):
    """Texts [batch] -> SentencePiece ids [batch, (pieces)] (and byte offsets), in graph."""

    def __init__(self, model: SentencePieceModel, name: str | None = None):
        super().__init__(name=name)
        self._unigram = self._words = self._lines = None
        if not model.is_bpe:
            self._unigram = UnigramEncoder(model)
        elif model.encodes_words_independently:
            self._words = BpeWordEncoder(model)
        else:
            self._lines = in_graph_sentencepiece(model.serialized)

    def encode(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """int32 ids [batch, (pieces)] of UTF-8 `texts` [batch], in one pass (the tokenizers
        shard their whole pipeline)."""
        if self._unigram is not None:
            return self._unigram.encode(texts)
        if self._words is not None:
            return self._words.encode(texts)
        return self._lines.tokenize(texts)

    def encode_with_offsets(self, texts: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Like `encode`, plus int64 start and end byte offsets of each piece in its text."""
        if self._unigram is not None:
            return map_in_shards(self._unigram.encode_with_offsets, texts)
        if self._words is not None:
            return self._words.encode_with_offsets(texts)
        return map_in_shards(self._lines.tokenize_with_offsets, texts)

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """SentencePiece's own decoding of int32 ids [batch, (pieces)] -> strings [batch]."""
        if self._unigram is not None:
            return self._unigram.normalizer.detokenize(ids)
        if self._words is not None:
            return self._words.sentencepiece.detokenize(ids)
        return self._lines.detokenize(ids)
