"""Encoder input batches that exercise padding: right, left, none, and two segments."""

from __future__ import annotations

import numpy as np


def padded_batch(vocabulary_size: int, num_segments: int, length: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A batch of 3 of `length`: right-padded, left-padded, full; type ids 0 then 1 (if any)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, vocabulary_size, size=(3, length)).astype(np.int32)
    mask = np.ones((3, length), np.int32)
    cut = max(1, length // 2)
    if length > 1:
        mask[0, cut:] = 0
        mask[1, : length - cut] = 0
    types = np.zeros((3, length), np.int32)
    if num_segments > 1:
        types[:, length // 3 :] = 1
    return {"input_word_ids": ids * mask, "input_mask": mask, "input_type_ids": types * mask}


def keras_inputs(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TF-Hub input names -> keras-hub input names."""
    return {
        "token_ids": batch["input_word_ids"],
        "padding_mask": batch["input_mask"],
        "segment_ids": batch["input_type_ids"],
    }
