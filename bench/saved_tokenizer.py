"""The tokenizer benchmarks' candidate: an in-graph tokenizer saved and loaded back.

Timing through the loaded SavedModel measures what a user of the exported preprocessor runs.
"""

from __future__ import annotations

import argparse
import pathlib

import tensorflow as tf

from hubexport.preprocess.tokenizers.base import InGraphTokenizer

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


def start_benchmark(description: str) -> argparse.Namespace:
    """Parses the benchmark's `--rounds` flag and gives TensorFlow 2 intra- and 2 inter-op threads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    return args
