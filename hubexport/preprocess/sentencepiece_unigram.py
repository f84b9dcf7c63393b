"""Unigram SentencePiece encoding in graph with exactly the segmentation of sentencepiece 0.2.x.

Ties decide real cases: `iii` can be `i ii` or `ii i` with the same total score, and which one
wins depends on float32 rounding of the running path score, so every score added before the tie
matters. tensorflow-text's `SentencepieceTokenizer` bundles an older Viterbi that rounds
differently; its `FastSentencepieceTokenizer` runs the same float32 recursion as sentencepiece
0.2.x (earliest start wins ties, user-defined pieces keep their own score) except for unknown
characters, which it penalizes once per UTF-8 byte instead of once per character. So:

1. `SentencepieceTokenizer` normalizes: its string pieces, joined, are the normalized text with
   "▁" for spaces (normalization is the same in both versions);
2. every character that occurs in no piece (the only ones that can be unknown) becomes the single
   byte 0xFF, so that it costs one unknown penalty, as in sentencepiece;
3. `FastSentencepieceTokenizer`, given a copy of the model whose normalizer leaves that text
   alone, finds the pieces.

Offsets come from step 1's pieces, which cover the same normalized text: a piece boundary that
step 1 shares keeps its offset; one inside a step-1 piece (only where a tie was broken the other
way) is placed by counting normalized bytes back from that piece's end.
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text
from sentencepiece import SentencePieceNormalizer, sentencepiece_model_pb2

from hubexport.preprocess.sentencepiece_model import SentencePieceModel
from hubexport.preprocess.sentencepiece_unicode import regex_class

UNKNOWN_BYTE = b"\xff"
_TYPE = sentencepiece_model_pb2.ModelProto.SentencePiece.Type
_FAST_TYPES = (_TYPE.NORMAL, _TYPE.USER_DEFINED, _TYPE.UNKNOWN, _TYPE.CONTROL)
_MATCHABLE = (_TYPE.NORMAL, _TYPE.USER_DEFINED)


class UnigramEncoder(tf.Module):
    """Texts [batch] -> unigram SentencePiece ids [batch, (pieces)] and byte offsets."""

    def __init__(self, model: SentencePieceModel, name: str | None = None):
        super().__init__(name=name)
        unsupported = {t for t in model.piece_types if t not in _FAST_TYPES}
        if unsupported:
            raise ValueError(f"unigram models with piece types {sorted(unsupported)} are not supported")
        known = sorted({ord(c) for p, t in zip(model.pieces, model.piece_types) if t in _MATCHABLE for c in p})
        self._unknown_chars = regex_class(known, negate=True)
        self._unknown_run = self._unknown_chars + "+"
        self._unknown_id = model.unknown_id()
        self._piece_bytes = tf.constant([len(p.encode()) for p in model.pieces], tf.int64)
        self.normalizer = tf_text.SentencepieceTokenizer(model.serialized, out_type=tf.string)
        self._segmenter = tf_text.FastSentencepieceTokenizer(_verbatim_copy(model, known))

    def encode(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """int32 ids [batch, (pieces)]."""
        return self._segment(self.normalizer.tokenize(texts))

    def encode_with_offsets(
        self, texts: tf.Tensor
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Ids plus int64 start and end byte offsets of each piece in its text."""
        pieces, piece_starts, piece_ends = self.normalizer.tokenize_with_offsets(texts)
        ids = self._segment(pieces)

        piece_bytes = tf.cast(tf.strings.length(pieces.flat_values), tf.int64)
        piece_is_unknown = tf.strings.regex_full_match(pieces.flat_values, self._unknown_run)
        is_unknown = ids.flat_values == self._unknown_id
        unknown_rank = tf.cumsum(tf.cast(is_unknown, tf.int64), exclusive=True)
        id_bytes = tf.where(
            is_unknown,
            tf.gather(
                tf.concat([tf.boolean_mask(piece_bytes, piece_is_unknown), [0]], axis=0),
                unknown_rank,
            ),
            tf.gather(self._piece_bytes, ids.flat_values),
        )
        # Positions in the normalized texts laid end to end.
        piece_end = tf.cumsum(piece_bytes)
        piece_start = piece_end - piece_bytes
        end = tf.cumsum(id_bytes)
        start = end - id_bytes

        def to_input(position, inclusive_end):
            containing = tf.searchsorted(
                piece_start, position - tf.cast(inclusive_end, tf.int64), side="right", out_type=tf.int64
            ) - 1
            containing = tf.maximum(containing, 0)
            own_start = tf.gather(piece_starts.flat_values, containing)
            own_end = tf.gather(piece_ends.flat_values, containing)
            boundary = tf.gather(piece_end if inclusive_end else piece_start, containing)
            inside = tf.maximum(own_start, own_end - (tf.gather(piece_end, containing) - position))
            return tf.where(position == boundary, own_end if inclusive_end else own_start, inside)

        return ids, ids.with_flat_values(to_input(start, False)), ids.with_flat_values(to_input(end, True))

    def _segment(self, pieces: tf.RaggedTensor) -> tf.RaggedTensor:
        normalized = tf.strings.reduce_join(pieces, axis=1)
        marked = tf.strings.regex_replace(normalized, self._unknown_chars, UNKNOWN_BYTE)
        return tf.cast(self._segmenter.tokenize(marked), tf.int32).with_row_splits_dtype(tf.int64)


def _verbatim_copy(model: SentencePieceModel, known: list[int]) -> bytes:
    """The model with a normalizer that changes nothing in already normalized text.

    The compiled rule maps one character that occurs in no piece (so never in the segmenter's
    input, where such characters are 0xFF) because an empty rule set cannot be compiled.
    """
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.serialized)
    known_set = set(known)
    absent = next(cp for cp in range(0xE000, 0x110000) if cp not in known_set)
    normalizer = SentencePieceNormalizer(norm_map=[(chr(absent), " ")])
    proto.normalizer_spec.ParseFromString(normalizer.serialized_normalizer_spec())
    proto.normalizer_spec.add_dummy_prefix = False
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.escape_whitespaces = False
    return proto.SerializeToString()
