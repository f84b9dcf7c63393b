"""The tokenizer benchmarks' candidate: an in-graph tokenizer saved and loaded back.

Timing through the loaded SavedModel measures what a user of the exported preprocessor runs.
"""
from __future__ import annotations

import pathlib

import tensorflow as tf

from hubexport.preprocess.tokenizer import InGraphTokenizer

STRINGS = [tf.TensorSpec([None], tf.string)]


def save_and_load(tokenizer: InGraphTokenizer, export_dir: pathlib.Path, with_offsets: bool = False):
    """Saves `tokenize` (and `tokenize_with_offsets`) as tf.functions and returns the loaded object."""
    module = tf.Module()
    module.tokenizer = tokenizer
    module.tokenize = tf.function(tokenizer.tokenize, input_signature=STRINGS)
    if with_offsets:
        module.tokenize_with_offsets = tf.function(tokenizer.tokenize_with_offsets, input_signature=STRINGS)
    tf.saved_model.save(module, str(export_dir))
    return tf.saved_model.load(str(export_dir))
