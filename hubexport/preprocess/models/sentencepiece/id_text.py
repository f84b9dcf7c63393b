"""Token ids carried as text: id i written as one code point, so that a word's ids are one string.

The BPE word path joins, caches and gathers whole words' ids; as strings that takes a few string
ops (gather, segment join, one decode) instead of ragged bookkeeping.
"""

from __future__ import annotations

import tensorflow as tf

_SURROGATES, _SURROGATE_COUNT = 0xD800, 0x800


def to_code_points(ids: tf.Tensor) -> tf.Tensor:
    """Id i as code point i, ids from U+D800 up moved past the surrogates (UTF-8 cannot hold
    them)."""
    return tf.where(ids < _SURROGATES, ids, ids + _SURROGATE_COUNT)


def id_text(token_id: int) -> str:
    """The text of one id, in Python (for tables built at construction)."""
    return chr(token_id if token_id < _SURROGATES else token_id + _SURROGATE_COUNT)


def ids_to_text(ids: tf.RaggedTensor) -> tf.Tensor:
    """int32 ids [n, (k)] -> UTF-8 strings [n], one code point per id."""
    return tf.raw_ops.UnicodeEncode(
        input_values=to_code_points(ids.flat_values),
        input_splits=ids.row_splits,
        output_encoding="UTF-8",
    )


def text_to_ids(texts: tf.Tensor) -> tf.RaggedTensor:
    """The inverse of `ids_to_text`: int32 ids [n, (k)] with int64 row splits."""
    splits, code_points = tf.raw_ops.UnicodeDecode(input=texts, input_encoding="UTF-8", Tsplits=tf.int64)
    ids = tf.where(code_points < _SURROGATES, code_points, code_points - _SURROGATE_COUNT)
    return tf.RaggedTensor.from_row_splits(ids, splits, validate=False)
