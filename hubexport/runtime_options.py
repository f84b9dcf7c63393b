"""TensorFlow runtime settings: CPU threads for running exported encoders, and graph optimization
switched off for calls made once.

The encoder is a chain of large oneDNN kernels that each use every intra-op thread, so one
inter-op thread (one kernel at a time) is the default: on 2 cores, 2 inter-op threads measured
slower at batch 1 (compare with `python -m bench.encoder --inter_op 2`). The settings must be
applied before TensorFlow runs its first op.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class ThreadOptions:
    """`intra_op`: threads inside one kernel (default: every core); `inter_op`: kernels at once."""

    intra_op: int | None = None
    inter_op: int = 1

    @property
    def resolved_intra_op(self) -> int:
        return self.intra_op or os.cpu_count() or 1


def apply_thread_options(options: ThreadOptions) -> None:
    """Configures TensorFlow's thread pools; raises RuntimeError once TensorFlow has started."""
    tf.config.threading.set_intra_op_parallelism_threads(options.resolved_intra_op)
    tf.config.threading.set_inter_op_parallelism_threads(options.inter_op)


@contextlib.contextmanager
def graph_optimization_off() -> Iterator[None]:
    """Runs the tf.functions called inside without Grappler's graph optimization.

    A function's first call optimizes its whole graph before running it (about 1 s for a tokenizer
    and a 6-layer encoder, against ~0.6 s to instantiate it unoptimized); calls made once to get
    reference outputs or facts about a model skip that cost. Results are those of the traced graph
    as written; saved functions are not affected (they are optimized where they are loaded).
    """
    options = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options(options)
