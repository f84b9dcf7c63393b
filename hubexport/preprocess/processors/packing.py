"""Packs tokenized segments into the three fixed-length encoder inputs, inside the graph.

This is the `bert_pack_inputs` step of a TF-Hub preprocessor: 1 to 3 segments of token ids are
trimmed to fit `seq_length` (see `trimming`), framed with the model family's special tokens and
padded. Two framings exist:

- "bert":    `[CLS] A [SEP] B [SEP] C [SEP]`, type ids 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`,
  2 for `C [SEP]`;
- "roberta": `<s> A </s></s> B </s></s> C </s>`, every type id 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from hubexport.errors import ConfigError
from hubexport.preprocess.processors import trimming
from hubexport.preprocess.tokenizers.base import SpecialTokens

PACKING_STYLES = ("bert", "roberta")
MAX_SEGMENTS = 3


def num_special_tokens(packing_style: str, num_segments: int) -> int:
    """How many special tokens framing `num_segments` segments adds."""
    if packing_style == "bert":
        return num_segments + 1
    return 2 * num_segments


def pack_inputs(
    segments: Sequence[tf.RaggedTensor],
    seq_length: int | tf.Tensor,
    special_tokens: SpecialTokens,
    packing_style: str,
    truncation: str,
) -> dict[str, tf.Tensor]:
    """Segments of int32 ids [batch, (tokens)] or [batch, (words), (pieces)] -> encoder inputs.

    Returns `input_word_ids`, `input_mask` and `input_type_ids`, int32 [batch, seq_length].
    If `seq_length` is too short even for the special tokens, every segment is emptied and the
    framing itself is cut at `seq_length`.
    """
    if packing_style not in PACKING_STYLES:
        raise ConfigError(f"packing_style must be one of {', '.join(PACKING_STYLES)}, got {packing_style!r}")
    if not 1 <= len(segments) <= MAX_SEGMENTS:
        raise ConfigError(f"bert_pack_inputs takes 1 to {MAX_SEGMENTS} segments, got {len(segments)}")
    flat = [_flatten(segment) for segment in segments]
    seq_length = tf.cast(seq_length, tf.int64)
    budget = tf.maximum(seq_length - num_special_tokens(packing_style, len(flat)), 0)
    lengths = tf.stack([segment.row_lengths() for segment in flat], axis=1)
    kept = trimming.kept_lengths(truncation, lengths, budget)
    word_pieces, type_pieces = [], []
    for index, segment in enumerate(flat):
        prefix = _prefix_ids(index, special_tokens, packing_style)
        pieces = [
            _constant_columns(segment, prefix),
            _keep_first(segment, kept[:, index]),
            _constant_columns(segment, [special_tokens.end_id]),
        ]
        segment_ids = tf.concat(pieces, axis=1)
        type_id = index if packing_style == "bert" else 0
        word_pieces.append(segment_ids)
        type_pieces.append(tf.ones_like(segment_ids) * type_id)
    word_ids = tf.concat(word_pieces, axis=1)
    shape = tf.stack([word_ids.nrows(), seq_length])
    return {
        "input_word_ids": word_ids.to_tensor(default_value=special_tokens.padding_id, shape=shape),
        "input_mask": tf.ones_like(word_ids).to_tensor(default_value=0, shape=shape),
        "input_type_ids": tf.concat(type_pieces, axis=1).to_tensor(default_value=0, shape=shape),
    }


def _flatten(segment: tf.RaggedTensor) -> tf.RaggedTensor:
    """[batch, (words), (pieces)] -> [batch, (tokens)]; int32 ids."""
    if not isinstance(segment, tf.RaggedTensor):
        raise ConfigError(f"bert_pack_inputs takes RaggedTensors of token ids, got {type(segment).__name__}")
    if segment.ragged_rank > 1:
        segment = segment.merge_dims(1, -1)
    return tf.cast(segment.with_row_splits_dtype(tf.int64), tf.int32)


def _prefix_ids(index: int, special_tokens: SpecialTokens, packing_style: str) -> list[int]:
    """Special tokens before segment `index`: the start token, or roberta's second `</s>`."""
    if index == 0:
        return [special_tokens.start_id]
    if packing_style == "roberta":
        return [special_tokens.end_id]
    return []


def _constant_columns(like: tf.RaggedTensor, ids: list[int]) -> tf.RaggedTensor:
    """The same `ids` in every row, as a ragged [batch, len(ids)] int32 tensor."""
    row = tf.constant(ids, dtype=tf.int32, shape=[len(ids)])
    rows = tf.tile(row[None, :], tf.stack([like.nrows(out_type=tf.int32), 1]))
    return tf.RaggedTensor.from_tensor(rows, row_splits_dtype=like.row_splits.dtype)


def _keep_first(segment: tf.RaggedTensor, counts: tf.Tensor) -> tf.RaggedTensor:
    """The first `counts[b]` tokens of each row b."""
    starts = segment.row_starts()
    positions = tf.ragged.range(starts, starts + tf.cast(counts, starts.dtype), row_splits_dtype=starts.dtype)
    return tf.gather(segment.values, positions)
