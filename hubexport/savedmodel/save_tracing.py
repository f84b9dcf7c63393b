"""Tracing tf.functions once, under the cache key `tf.saved_model.save` looks them up with.

`tf.saved_model.save` re-gets every concrete function of every saved `tf.function` inside its
save context, and the function cache key includes that context (the save options' variable
policy): each function traced before saving is traced again while saving, tokenizer and
encoder graphs included. Building the functions (and calling them eagerly) inside
`traced_for_saving()` gives them the key save uses, so save finds them in the cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tensorflow as tf
from tensorflow.python.saved_model import save_context


@contextlib.contextmanager
def traced_for_saving(options: tf.saved_model.SaveOptions | None = None) -> Iterator[None]:
    """Traces (and eager calls) in this block are cached as `tf.saved_model.save(..., options)` finds them.

    `tf.saved_model.save` cannot be called inside the block (save contexts do not nest).
    """
    with save_context.save_context(options or tf.saved_model.SaveOptions()):
        yield
