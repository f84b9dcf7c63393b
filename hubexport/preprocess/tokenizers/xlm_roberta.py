"""XLM-RoBERTa's SentencePiece tokenizer inside the graph, id for id like HF's
`XLMRobertaTokenizer` (the slow, sentencepiece-backed one).

HF hands the text to SentencePiece unchanged and renumbers the pieces the fairseq way: `<s>`=0,
`<pad>`=1, `</s>`=2, `<unk>`=3, every other SentencePiece id shifted by one (SentencePiece's id 0,
its unknown piece, becomes 3), `<mask>` = SentencePiece size + 1.
"""

from __future__ import annotations

import pathlib

import tensorflow as tf

from hubexport.preprocess.models.sentencepiece.model_file import SPACE_SYMBOL
from hubexport.preprocess.tokenizers.base import SpecialTokens
from hubexport.preprocess.tokenizers.sentencepiece_base import SentencePieceTokenizerBase

FAIRSEQ_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
FAIRSEQ_OFFSET = 1
UNKNOWN_ID = 3


class XlmRobertaSentencePieceTokenizer(SentencePieceTokenizerBase):
    """XLM-R tokenization: `tokenize`, `tokenize_with_offsets`, `detokenize`, in graph.

    Offsets are byte offsets into the input string in SentencePiece's convention: a piece that
    begins with "▁" covers the whitespace before its word; the "▁" SentencePiece puts in front of
    a text is zero-width.
    """

    packing_style = "roberta"

    def __init__(self, model_file: str | pathlib.Path, name: str | None = None):
        super().__init__(model_file, name=name)
        size = len(self._model)
        self.vocab_size = size + FAIRSEQ_OFFSET + 1
        self.special_tokens = SpecialTokens(
            start_id=0, end_id=2, padding_id=1, unknown_id=UNKNOWN_ID, mask_id=size + FAIRSEQ_OFFSET
        )
        self._tokens = tf.constant(
            list(FAIRSEQ_TOKENS) + list(self._model.pieces[len(FAIRSEQ_TOKENS) - FAIRSEQ_OFFSET :]) + ["<mask>"]
        )

    def _tokenize_shard(self, strings: tf.Tensor) -> tf.RaggedTensor:
        return _to_fairseq(self._encoder.encode(strings))

    def tokenize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        ids, starts, ends = self._encoder.encode_with_offsets(strings)
        return _to_fairseq(ids), starts, ends

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """Like HF's `decode(ids)`: tokens joined, "▁" read as a space, the ends stripped."""
        text = tf.strings.reduce_join(tf.gather(self._tokens, ids), axis=-1)
        return self._strip_whitespace(tf.strings.regex_replace(text, SPACE_SYMBOL, " "))


def _to_fairseq(ids: tf.RaggedTensor) -> tf.RaggedTensor:
    """SentencePiece ids -> XLM-R ids (`spm_id + 1 if spm_id else <unk>`, as HF converts)."""
    return tf.ragged.map_flat_values(lambda v: tf.where(v == 0, UNKNOWN_ID, v + FAIRSEQ_OFFSET), ids)
