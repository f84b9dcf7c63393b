"""Unigram SentencePiece encoding in graph with exactly the segmentation of sentencepiece 0.2.x.

Ties decide real cases: `iii` can be `i ii` or `ii i` with the same total score, and which one
wins depends on float32 rounding of the running path score, so every score added before the tie
matters. tensorflow-text's `SentencepieceTokenizer` bundles an older Viterbi that rounds
differently; its `FastSentencepieceTokenizer` runs the same float32 recursion as sentencepiece
0.2.x (earliest start wins ties, user-defined pieces keep their own score) except for unknown
characters, which it penalizes once per UTF-8 byte instead of once per character. Hence:

- texts whose `FastSentencepieceTokenizer` pieces hold no unknown piece are exact as they are
  (its normalizer agrees with SentencePiece's for models that map tab, CR and LF to spaces and
  leave their user-defined symbols alone; other models always take the next route);
- the others are encoded in three steps: `SentencepieceTokenizer` normalizes (its string pieces,
  joined, are the normalized text with "▁" for spaces); every character that occurs in no piece
  (the only ones that can be unknown) becomes the single byte 0xFF, so that it costs one unknown
  penalty, as in sentencepiece; `FastSentencepieceTokenizer`, given a copy of the model whose
  normalizer leaves that text alone, finds the pieces.

Offsets come from `SentencepieceTokenizer`'s pieces, which cover the same normalized text: a
piece boundary they share keeps its offset; one inside such a piece (only where a tie was broken
the other way) is placed by counting normalized bytes back from that piece's end.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text
from sentencepiece import SentencePieceNormalizer, sentencepiece_model_pb2

from hubexport.preprocess.models.sentencepiece.model_file import SentencePieceModel, in_graph_sentencepiece
from hubexport.preprocess.unicode_tables.python_whitespace import regex_class

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
            raise ValueError(f"unigram models with piece types {sorted(unsupported)}: unsupported")
        known = sorted({ord(c) for p, t in zip(model.pieces, model.piece_types) if t in _MATCHABLE for c in p})
        self._unknown_chars = regex_class(known, negate=True)
        self._unknown_run = self._unknown_chars + "+"
        self._unknown_id = model.unknown_id()
        self._piece_bytes = tf.constant([len(p.encode()) for p in model.pieces], tf.int64)
        self.normalizer = in_graph_sentencepiece(model.serialized, tf.string)
        self._segmenter = tf_text.FastSentencepieceTokenizer(_verbatim_copy(model, known))
        self._direct = tf_text.FastSentencepieceTokenizer(model.serialized) if _fast_normalizer_agrees(model) else None

    def encode(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """int32 ids [batch, (pieces)]."""
        if self._direct is None:
            return self._encode_exactly(texts)
        ids = _int32_ids(self._direct.tokenize(texts))
        unknown_at = tf.where(tf.equal(ids.flat_values, self._unknown_id))[:, 0]
        return tf.cond(
            tf.size(unknown_at) > 0,
            lambda: self._redo_rows(texts, ids, unknown_at),
            lambda: ids,
        )

    def encode_with_offsets(self, texts: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Ids plus int64 start and end byte offsets of each piece in its text."""
        pieces, piece_starts, piece_ends = self.normalizer.tokenize_with_offsets(texts)
        ids = self.encode(texts)

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
            containing = (
                tf.searchsorted(
                    piece_start,
                    position - tf.cast(inclusive_end, tf.int64),
                    side="right",
                    out_type=tf.int64,
                )
                - 1
            )
            containing = tf.maximum(containing, 0)
            own_start = tf.gather(piece_starts.flat_values, containing)
            own_end = tf.gather(piece_ends.flat_values, containing)
            boundary = tf.gather(piece_end if inclusive_end else piece_start, containing)
            inside = tf.maximum(own_start, own_end - (tf.gather(piece_end, containing) - position))
            return tf.where(position == boundary, own_end if inclusive_end else own_start, inside)

        starts = ids.with_flat_values(to_input(start, False))
        return ids, starts, ids.with_flat_values(to_input(end, True))

    def _redo_rows(self, texts: tf.Tensor, ids: tf.RaggedTensor, unknown_at: tf.Tensor) -> tf.RaggedTensor:
        """`ids` with the rows that hold the unknown pieces at flat positions `unknown_at`
        encoded again exactly."""
        batch = tf.shape(texts, out_type=tf.int64)[0]
        rows = tf.searchsorted(ids.row_splits[1:], unknown_at, side="right", out_type=tf.int64)
        redo = tf.scatter_nd(rows[:, None], tf.ones_like(rows), [batch]) > 0
        redone = self._encode_exactly(tf.boolean_mask(texts, redo))
        row = tf.where(redo, batch + tf.cumsum(tf.cast(redo, tf.int64), exclusive=True), tf.range(batch))
        return tf.gather(tf.concat([ids, redone], axis=0), row)

    def _encode_exactly(self, texts: tf.Tensor) -> tf.RaggedTensor:
        normalized = tf.strings.reduce_join(self.normalizer.tokenize(texts), axis=1)
        marked = tf.strings.regex_replace(normalized, self._unknown_chars, UNKNOWN_BYTE)
        return _int32_ids(self._segmenter.tokenize(marked))


def _int32_ids(ids: tf.RaggedTensor) -> tf.RaggedTensor:
    """`FastSentencepieceTokenizer` output with the dtypes the other encoders use."""
    return tf.cast(ids, tf.int32).with_row_splits_dtype(tf.int64)


def _fast_normalizer_agrees(model: SentencePieceModel) -> bool:
    """Whether `FastSentencepieceTokenizer`'s own normalizer can stand in for SentencePiece's:
    it treats tab, CR and LF as spaces and does not keep user-defined symbols verbatim, so the
    model's rules must do the former and leave the symbols alone."""
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.serialized)
    # Built from the normalizer spec alone, it knows no user-defined symbols, like the fast one.
    rules = SentencePieceNormalizer(normalizer_spec=proto.normalizer_spec.SerializeToString())
    spaces = rules.normalize("a\tb\rc\nd") == rules.normalize("a b c d")
    user_defined = [p for p, t in zip(model.pieces, model.piece_types) if t == _TYPE.USER_DEFINED]
    kept = all(rules.normalize("x" + p) == rules.normalize("x") + p for p in user_defined)
    return spaces and kept


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
