"""HF's ALBERT re-split of pieces that end in a digit and a comma, inside the graph.

`AlbertTokenizer._tokenize` encodes such a piece again without its comma and without "▁"
(`▁9,` -> `▁9` + `,`, so that `9,9` tokenizes like in BERT's original code); when the piece did
not start with "▁" but the new first piece does, that "▁" is removed (the piece dropped if it was
only "▁"). What a piece becomes depends on the piece alone, so every piece's replacement is
computed once, with the sentencepiece library, when the tokenizer is built; the graph only
gathers replacements.

A piece that SentencePiece marks unknown is reported by the reference as its surface text, which
never ends in a comma when the vocabulary has one, so only known pieces are re-split.
"""

from __future__ import annotations

import itertools

import tensorflow as tf
from sentencepiece import SentencePieceProcessor

from hubexport.preprocess.models.sentencepiece.model_file import SPACE_SYMBOL, SentencePieceModel

KEPT, DIGITS, COMMA = 0, 1, 2


class DigitCommaSplitter(tf.Module):
    """Token ids [batch, (tokens)] -> ids with every `<digit>,` piece re-split as HF does."""

    def __init__(self, model: SentencePieceModel, name: str | None = None):
        super().__init__(name=name)
        if "," not in model.piece_ids:
            raise ValueError("the SentencePiece model has no ',' piece; ALBERT needs one")
        rows = _replacements(model)
        self._row_splits = tf.constant(list(itertools.accumulate([0] + [len(row) for row in rows])), tf.int64)
        # Per replacement token: its id and its role (KEPT, DIGITS or COMMA).
        self._tokens = tf.constant([token for row in rows for token in row], tf.int32)

    def split(self, ids: tf.RaggedTensor) -> tf.RaggedTensor:
        """The re-split ids."""
        return self._replace(ids)[0]

    def split_with_origin(self, ids: tf.RaggedTensor) -> tuple[tf.RaggedTensor, tf.Tensor, tf.Tensor]:
        """The re-split ids, and per new token (flat): the flat index of the token it comes
        from, and its role: KEPT (not re-split), DIGITS (a part without the comma) or COMMA."""
        new_ids, token_splits, roles = self._replace(ids)
        origin = tf.searchsorted(token_splits[1:], tf.range(token_splits[-1]), side="right", out_type=tf.int64)
        return new_ids, origin, roles

    def _replace(self, ids: tf.RaggedTensor) -> tuple[tf.RaggedTensor, tf.Tensor, tf.Tensor]:
        """The re-split ids, the row splits of each old token's replacement tokens, and each new
        token's role."""
        splits, tokens = tf.raw_ops.RaggedGather(
            params_nested_splits=[self._row_splits],
            params_dense_values=self._tokens,
            indices=ids.flat_values,
            OUTPUT_RAGGED_RANK=1,
        )
        token_splits = splits[0]
        new_ids = tf.RaggedTensor.from_row_splits(tokens[:, 0], tf.gather(token_splits, ids.row_splits), validate=False)
        return new_ids, token_splits, tokens[:, 1]


def _replacements(model: SentencePieceModel) -> list[list[tuple[int, int]]]:
    """Per piece id: the (id, role) tokens HF's ALBERT tokenizer puts in its place."""
    processor = SentencePieceProcessor(model_proto=model.serialized)
    unknown = model.unknown_id()
    comma = model.piece_ids[","]
    rows = []
    for i, piece in enumerate(model.pieces):
        if i == unknown or not (len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()):
            rows.append([(i, KEPT)])
            continue
        parts = processor.encode(piece[:-1].replace(SPACE_SYMBOL, ""), out_type=str)
        if piece[0] != SPACE_SYMBOL and parts[0][0] == SPACE_SYMBOL:
            parts = parts[1:] if len(parts[0]) == 1 else [parts[0][1:]] + parts[1:]
        rows.append([(processor.piece_to_id(p), DIGITS) for p in parts] + [(comma, COMMA)])
    return rows
