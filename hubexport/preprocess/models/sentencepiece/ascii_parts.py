"""BPE SentencePiece encoding of printable-ASCII words, part by part.

A BPE merge can never join two adjacent characters that no piece holds side by side, so a word can
be cut there and its parts encoded on their own: BPE merges each part exactly as inside the word.
Parts are encoded with a copy of the model whose normalizer only turns spaces into "▁": the first
part of a word carries a leading space (SentencePiece's "▁" prefix), the others none. Real text
repeats parts a lot and many are one piece: those come from a table checked with the
sentencepiece library when the tokenizer is built; the others come from a cache of parts seen in
earlier calls (`id_cache`: real text repeats parts more than words, and looking a
word up costs about as much as cutting it) or are encoded, each distinct part once.

Only printable ASCII (U+0021-U+007E) is cut: there a character is a byte and the model's
normalization changes nothing (checked per model; models where it would, or with user-defined or
unused pieces, are never cut but still encoded word by word here).
"""

from __future__ import annotations

import tensorflow as tf
from sentencepiece import (
    SentencePieceNormalizer,
    SentencePieceProcessor,
    sentencepiece_model_pb2,
)

from hubexport.preprocess.models.sentencepiece.id_cache import IdCache
from hubexport.preprocess.models.sentencepiece.id_text import id_text, text_to_ids
from hubexport.preprocess.models.sentencepiece.model_file import (
    SPACE_SYMBOL,
    SentencePieceModel,
    in_graph_sentencepiece,
)

PRINTABLE_ASCII = "".join(map(chr, range(0x21, 0x7F)))
WORD_PATTERN = "[\\x21-\\x7e]+"
_SPACE = ord(" ")
_TYPE = sentencepiece_model_pb2.ModelProto.SentencePiece.Type
_UNKNOWN_PART = b"\xff"


def encodes_ascii_words(model: SentencePieceModel) -> bool:
    """Whether the model normalizes a printable-ASCII word w to "▁" + w, and a copy without
    whitespace handling normalizes " " + w to the same (so parts can be encoded with it)."""
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.serialized)
    rules = SentencePieceNormalizer(normalizer_spec=proto.normalizer_spec.SerializeToString())
    verbatim = SentencePieceNormalizer(normalizer_spec=_verbatim_proto(model).normalizer_spec.SerializeToString())
    expected = SPACE_SYMBOL + PRINTABLE_ASCII
    return rules.normalize(PRINTABLE_ASCII) == expected and (verbatim.normalize(" " + PRINTABLE_ASCII) == expected)


class AsciiPartEncoder(tf.Module):
    """Distinct printable-ASCII words [n] -> their ids [n, (pieces)]."""

    def __init__(self, model: SentencePieceModel, name: str | None = None):
        super().__init__(name=name)
        serialized = _verbatim_proto(model).SerializeToString()
        self._verbatim = in_graph_sentencepiece(serialized)
        self._cuts = tf.constant(_cut_table(model))
        texts, ids = _one_piece_parts(serialized)
        self._one_piece = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(texts, tf.string), tf.constant([id_text(i) for i in ids], tf.string)
            ),
            default_value=_UNKNOWN_PART,
        )
        self._known_parts = IdCache()

    def encode(self, words: tf.Tensor) -> tf.RaggedTensor:
        """int32 ids [n, (pieces)] of each word (all printable ASCII, none empty)."""
        # The words back to back, each after a space, as bytes.
        space = tf.where(tf.size(words) > 0, " ", "")
        joined = tf.strings.join([space, tf.strings.reduce_join(words, separator=" ")])
        codes = tf.cast(tf.io.decode_raw(joined, tf.uint8), tf.int32)
        is_space = tf.equal(codes, _SPACE)
        cut_before = tf.concat([[False], tf.gather(self._cuts, codes[:-1] * 128 + codes[1:])], axis=0)
        starts = tf.where(is_space | cut_before)[:, 0]
        size = tf.shape(codes, out_type=tf.int64)
        lengths = tf.concat([starts[1:], size], axis=0) - starts
        parts = tf.strings.substr(joined, starts, lengths)

        unique, index = tf.unique(parts)
        coded = self._one_piece.lookup(unique)
        misses = tf.where(tf.equal(coded, _UNKNOWN_PART))
        fresh = self._known_parts.encode(tf.gather_nd(unique, misses), self._encode_parts)
        unique_ids = text_to_ids(tf.tensor_scatter_nd_update(coded, misses, fresh))
        part_splits, ids = tf.raw_ops.RaggedGather(
            params_nested_splits=[unique_ids.row_splits],
            params_dense_values=unique_ids.flat_values,
            indices=index,
            OUTPUT_RAGGED_RANK=1,
        )
        # A word's parts are consecutive, the first one starts at its space.
        first_parts = tf.where(tf.gather(is_space, starts))[:, 0]
        word_splits = tf.gather(part_splits[0], tf.concat([first_parts, tf.shape(starts, out_type=tf.int64)], 0))
        return tf.RaggedTensor.from_row_splits(ids, word_splits, validate=False)

    def _encode_parts(self, parts: tf.Tensor) -> tf.RaggedTensor:
        return self._verbatim.tokenize(parts)


def _verbatim_proto(model: SentencePieceModel) -> sentencepiece_model_pb2.ModelProto:
    """The model with no dummy prefix, no whitespace removal and no normalization rules (they
    leave printable ASCII alone where `encodes_ascii_words` holds): " abc" is encoded like "abc"
    inside the full model's "▁abc", "abc" like a word part that follows others."""
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.serialized)
    proto.normalizer_spec.add_dummy_prefix = False
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.precompiled_charsmap = b""
    return proto


def _one_piece_parts(serialized: bytes) -> tuple[list[str], list[int]]:
    """Part texts (a printable-ASCII piece, with " " for its "▁") that the verbatim model itself
    (the sentencepiece library) encodes as that one piece, and their ids."""
    processor = SentencePieceProcessor(model_proto=serialized)
    alphabet = set(PRINTABLE_ASCII + " ")
    texts, ids = [], []
    for i in range(processor.get_piece_size()):
        text = processor.id_to_piece(i).replace(SPACE_SYMBOL, " ")
        if set(text) <= alphabet and processor.encode(text) == [i]:
            texts.append(text)
            ids.append(i)
    return texts, ids


def _cut_table(model: SentencePieceModel) -> list[bool]:
    """[128 * 128]: whether a word may be cut between bytes a and b (a space stands for "▁").

    Only when no piece holds the two characters side by side (no merge can join them) and they
    are not both unknown (SentencePiece turns a run of unknown characters into one `<unk>`).
    Models with user-defined or unused pieces (matched or re-split outside the merges) are never
    cut.
    """
    table = [False] * (128 * 128)
    if any(t in (_TYPE.USER_DEFINED, _TYPE.UNUSED) for t in model.piece_types):
        return table
    pieces = [p for p, t in zip(model.pieces, model.piece_types) if t == _TYPE.NORMAL]
    adjacent = {p[i : i + 2] for p in pieces for i in range(len(p) - 1)}
    known = {p for p in pieces if len(p) == 1}
    chars = {ord(c): c for c in PRINTABLE_ASCII} | {_SPACE: SPACE_SYMBOL}
    for a, first in chars.items():
        for b, second in chars.items():
            table[a * 128 + b] = first + second not in adjacent and (first in known or second in known)
    return table
