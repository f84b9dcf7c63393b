"""HF's ALBERT re-split of pieces that end in a digit and a comma, inside the graph.

`AlbertTokenizer._tokenize` encodes such a piece again without its comma and without "▁"
(`▁9,` -> `▁9` + `,`, so that `9,9` tokenizes like in BERT's original code); when the piece did
not start with "▁" but the new first piece does, that "▁" is removed (the piece dropped if it was
only "▁"). Which pieces qualify, and what stripping "▁" gives, are facts about the vocabulary, so
they are precomputed per id; only the re-encoding runs in the graph.

A piece that SentencePiece marks unknown is reported by the reference as its surface text, which
never ends in a comma when the vocabulary has one, so only known pieces are looked at.
"""
from __future__ import annotations

import tensorflow as tf

from hubexport.preprocess.sentencepiece_encoding import SentencePieceEncoder
from hubexport.preprocess.sentencepiece_model import SPACE_SYMBOL, SentencePieceModel

_DROP = -1
KEPT, DIGITS, COMMA = 0, 1, 2


class DigitCommaSplitter(tf.Module):
    """Token ids [batch, (tokens)] -> ids with every `<digit>,` piece re-split as HF does."""

    def __init__(self, model: SentencePieceModel, encoder: SentencePieceEncoder, name=None):
        super().__init__(name=name)
        if "," not in model.piece_ids:
            raise ValueError("the SentencePiece model has no ',' piece; ALBERT needs one")
        self._encoder = encoder
        unknown = model.unknown_id()
        pieces = model.pieces
        self._comma_id = model.piece_ids[","]
        splits = [
            i != unknown and len(p) > 1 and p[-1] == "," and p[-2].isdigit()
            for i, p in enumerate(pieces)
        ]
        self._splits = tf.constant(splits)
        self._texts = tf.constant(
            [p[:-1].replace(SPACE_SYMBOL, "") if s else "" for p, s in zip(pieces, splits)]
        )
        self._starts_with_space = tf.constant([p.startswith(SPACE_SYMBOL) for p in pieces])
        self._without_space = tf.constant(
            [
                (_DROP if p == SPACE_SYMBOL else model.piece_ids.get(p[1:], unknown))
                if p.startswith(SPACE_SYMBOL)
                else i
                for i, p in enumerate(pieces)
            ],
            tf.int32,
        )

    def split(
        self, ids: tf.RaggedTensor
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """The re-split ids, and per new token: the flat index of the token it comes from, and
        its role: KEPT (not re-split), DIGITS (a part without the comma) or COMMA."""
        flat = ids.flat_values
        count = tf.size(flat, out_type=tf.int64)
        splits = tf.gather(self._splits, flat)
        split_ids = tf.boolean_mask(flat, splits)
        parts = self._encoder.encode(tf.gather(self._texts, split_ids))

        parts = self._strip_first_space(parts, split_ids)
        comma = tf.fill([tf.size(split_ids), 1], tf.constant(self._comma_id, tf.int32))
        parts = tf.concat([parts, tf.RaggedTensor.from_tensor(comma)], axis=1)

        split_rank = tf.cumsum(tf.cast(splits, tf.int64), exclusive=True)
        row = tf.where(splits, count + split_rank, tf.range(count))
        source = tf.concat([tf.RaggedTensor.from_tensor(flat[:, None]), parts], axis=0)
        replaced = tf.gather(source, row)
        origin = tf.repeat(tf.range(count), replaced.row_lengths())
        position = tf.range(tf.size(origin, out_type=tf.int64))
        is_last = position == tf.gather(replaced.row_limits(), origin) - 1
        role = tf.where(
            tf.gather(splits, origin), tf.where(is_last, COMMA, DIGITS), KEPT
        )

        def per_text(values):
            return ids.with_flat_values(replaced.with_flat_values(values)).merge_dims(1, 2)

        return per_text(replaced.flat_values), per_text(origin), per_text(role)

    def _strip_first_space(self, parts: tf.RaggedTensor, split_ids: tf.Tensor) -> tf.RaggedTensor:
        """Removes the "▁" of each re-encoded first piece when the split piece had none."""
        values, rowids, starts = parts.flat_values, parts.value_rowids(), parts.row_starts()
        first = tf.gather(tf.concat([values, [0]], axis=0), starts)
        strip = (
            (parts.row_lengths() > 0)
            & ~tf.gather(self._starts_with_space, split_ids)
            & tf.gather(self._starts_with_space, first)
        )
        position = tf.range(tf.size(values, out_type=tf.int64))
        stripping = tf.gather(strip, rowids) & (position == tf.gather(starts, rowids))
        stripped = tf.gather(tf.gather(self._without_space, first), rowids)
        values = tf.where(stripping, stripped, values)
        keep = values != _DROP
        return tf.RaggedTensor.from_value_rowids(
            tf.boolean_mask(values, keep),
            tf.boolean_mask(rowids, keep),
            nrows=parts.nrows(),
        )
