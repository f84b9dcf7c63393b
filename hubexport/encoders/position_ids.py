"""Position ids: plain `0..seq-1`, or RoBERTa's padding-offset ids computed from the mask.

RoBERTa and XLM-R number real tokens from `padding_position + 1` and give pads the id
`padding_position` (Hugging Face: `cumsum(mask) * mask + padding_idx`). Computing this from the
mask, rather than slicing the table from row 2, stays correct with left padding.
"""

from __future__ import annotations

import keras
from keras import ops


def absolute_position_ids(padding_mask):
    """[batch, seq] mask -> [1, seq] ids 0..seq-1, broadcast over the batch."""
    return ops.expand_dims(ops.arange(ops.shape(padding_mask)[1], dtype="int32"), 0)


def padding_offset_position_ids(padding_mask, padding_position: int):
    """[batch, seq] mask -> [batch, seq] ids: pads at `padding_position`, tokens counted after it."""
    mask = ops.cast(padding_mask, "int32")
    return ops.cumsum(mask, axis=1) * mask + padding_position


def position_ids(padding_mask, style: str, padding_position: int) -> keras.KerasTensor:
    """Dispatches on the config's `position_style`."""
    if style == "padding_offset":
        return padding_offset_position_ids(padding_mask, padding_position)
    return absolute_position_ids(padding_mask)
