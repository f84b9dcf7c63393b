"""Reads a SentencePiece model file once, in Python, for the in-graph tokenizers.

The in-graph tokenizers need the serialized proto (it becomes a graph constant, so no source path
travels into the SavedModel) and a few facts about it: the pieces, their types, the algorithm and
the whitespace options that decide whether words can be encoded independently.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os

import sentencepiece
import tensorflow as tf
import tensorflow_text as tf_text
from google.protobuf.message import DecodeError
from sentencepiece import sentencepiece_model_pb2

from hubexport import user_files
from hubexport.checkpoints.error_text import first_line
from hubexport.errors import TokenizerFilesError

SPACE_SYMBOL = "\u2581"
MODEL_FILE = "SentencePiece model"
_PIECE_TYPE = sentencepiece_model_pb2.ModelProto.SentencePiece.Type
_MODEL_TYPE = sentencepiece_model_pb2.TrainerSpec.ModelType


@dataclasses.dataclass(frozen=True)
class SentencePieceModel:
    """The serialized model and the facts about it that the tokenizers use."""

    serialized: bytes
    pieces: tuple[str, ...]
    piece_types: tuple[int, ...]
    is_bpe: bool
    standard_whitespace: bool

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> SentencePieceModel:
        """Parses a `.model` file (the `spiece.model` / `sentencepiece.bpe.model` of HF); TokenizerFilesError
        naming the file if it cannot be read or is not a model SentencePiece can load."""
        serialized = user_files.read_bytes(path, error=TokenizerFilesError, what=MODEL_FILE)
        try:
            return cls.from_bytes(serialized)
        except ValueError as error:
            raise user_files.file_error(path, str(error), error=TokenizerFilesError, what=MODEL_FILE) from None

    @classmethod
    def from_bytes(cls, serialized: bytes) -> SentencePieceModel:
        """Parses a serialized `ModelProto`; ValueError saying why if it is not one SentencePiece can load."""
        proto = sentencepiece_model_pb2.ModelProto()
        try:
            proto.ParseFromString(serialized)
        except DecodeError:
            raise ValueError("not a SentencePiece model (its protobuf does not parse)") from None
        if not proto.pieces:
            raise ValueError("not a SentencePiece model (it has no pieces)")
        try:
            sentencepiece.SentencePieceProcessor(model_proto=serialized)
        except RuntimeError as error:
            raise ValueError(f"SentencePiece cannot load it ({first_line(error)})") from None
        normalizer, trainer = proto.normalizer_spec, proto.trainer_spec
        pieces = tuple(p.piece for p in proto.pieces)
        standard_whitespace = (
            normalizer.add_dummy_prefix
            and normalizer.remove_extra_whitespaces
            and trainer.split_by_whitespace
            and not trainer.treat_whitespace_as_suffix
            and not any(SPACE_SYMBOL in piece[1:] for piece in pieces)
        )
        return cls(
            serialized=serialized,
            pieces=pieces,
            piece_types=tuple(p.type for p in proto.pieces),
            is_bpe=trainer.model_type == _MODEL_TYPE.BPE,
            standard_whitespace=standard_whitespace,
        )

    def __len__(self) -> int:
        return len(self.pieces)

    @property
    def encodes_words_independently(self) -> bool:
        """True when encoding a text equals encoding its space-separated words one by one.

        Holds exactly for BPE with SentencePiece's default whitespace handling: merges never cross
        a word boundary and are decided by piece ranks alone. For unigram the Viterbi path scores
        are float sums over the whole text, so ties could round differently: those models are
        always encoded line by line.
        """
        return self.is_bpe and self.standard_whitespace

    @functools.cached_property
    def piece_ids(self) -> dict[str, int]:
        """Piece string -> id, like `SentencePieceProcessor.PieceToId` for known pieces."""
        return {piece: i for i, piece in enumerate(self.pieces)}

    def unknown_id(self) -> int:
        """Id of the (single) UNKNOWN piece."""
        return self.piece_types.index(_PIECE_TYPE.UNKNOWN)


def in_graph_sentencepiece(serialized: bytes, out_type: tf.DType = tf.int32) -> tf_text.SentencepieceTokenizer:
    """`tensorflow_text.SentencepieceTokenizer` for `serialized`, named after the model's hash.

    Unnamed, two of them with different models come back from a SavedModel sharing one model
    (the kernel-owned resources are told apart by node name); the hash keeps names distinct.
    """
    digest = hashlib.sha1(serialized).hexdigest()[:16]
    return tf_text.SentencepieceTokenizer(serialized, out_type=out_type, name=f"sentencepiece_{digest}")
