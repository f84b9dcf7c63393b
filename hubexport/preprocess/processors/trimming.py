"""How many tokens of each segment survive when segments must share a token budget.

Both strategies work on a whole batch at once with TensorFlow ops, so they run inside the graph:
they take the per-row segment lengths `[batch, num_segments]` and a budget, and return the kept
lengths `[batch, num_segments]` (each kept length <= its segment length, their sum <= budget).

- "round_robin" is the name Model Garden's preprocessors use for their balanced trimming. Here it
  is Hugging Face's `truncation=True` ("longest_first", tokenizers' `truncate_encodings`) so that
  packed inputs equal what the fast tokenizers produce: the budget is water-filled (every segment
  gets up to the same level L, the highest level that fits), and the few tokens left over go one
  each to the segments cut at L, longer segments first and on ties later segments first. For two
  segments this is exactly Hugging Face's rule: the shorter one is kept whole if the longer one
  still gets at least as much, otherwise each gets half and the longer (or on ties the second)
  one gets the odd token.
- "waterfall" keeps the first segments whole and gives the rest of the budget to later ones.
"""

from __future__ import annotations

import itertools

import tensorflow as tf

from hubexport.errors import ConfigError

TRUNCATION_STRATEGIES = ("round_robin", "waterfall")


def check_truncation(truncation: str) -> str:
    """Returns `truncation` if it names a known strategy, else raises ConfigError."""
    if truncation not in TRUNCATION_STRATEGIES:
        raise ConfigError(f"--truncation must be one of {', '.join(TRUNCATION_STRATEGIES)}, got {truncation!r}")
    return truncation


def kept_lengths(truncation: str, lengths: tf.Tensor, budget: tf.Tensor) -> tf.Tensor:
    """Kept lengths [batch, num_segments] for int64 `lengths` and a scalar int64 `budget`."""
    if check_truncation(truncation) == "round_robin":
        return _water_filling(lengths, budget)
    return _waterfall(lengths, budget)


def _waterfall(lengths: tf.Tensor, budget: tf.Tensor) -> tf.Tensor:
    """Each segment keeps what fits after the segments before it."""
    kept_before = tf.math.cumsum(lengths, axis=1, exclusive=True)
    return tf.clip_by_value(budget - kept_before, tf.zeros_like(lengths), lengths)


def _water_filling(lengths: tf.Tensor, budget: tf.Tensor) -> tf.Tensor:
    """Hugging Face's longest_first allocation, generalized to any number of segments."""
    num_segments = lengths.shape[1]
    level = _highest_level(lengths, budget, num_segments)
    kept = tf.minimum(lengths, level[:, None])
    leftover = budget - tf.reduce_sum(kept, axis=1)
    cut = lengths > level[:, None]
    segment_index = tf.range(num_segments)
    # preferred[b, i, j]: segment j gets a leftover token before segment i.
    longer = lengths[:, None, :] > lengths[:, :, None]
    tie_later = (lengths[:, None, :] == lengths[:, :, None]) & (segment_index[None, :] > segment_index[:, None])
    preferred = cut[:, None, :] & (longer | tie_later)
    rank = tf.reduce_sum(tf.cast(preferred, lengths.dtype), axis=2)
    gets_extra = cut & (rank < leftover[:, None])
    return kept + tf.cast(gets_extra, lengths.dtype)


def _highest_level(lengths: tf.Tensor, budget: tf.Tensor, num_segments: int) -> tf.Tensor:
    """Largest L per row with sum(min(length_i, L)) <= budget.

    sum(min(length_i, L)) is the minimum over subsets S of sum_S length_i + (k - |S|) * L, so
    the largest fitting L is the maximum over proper subsets S of
    floor((budget - sum_S length_i) / (k - |S|)). With at most a few segments the subsets are
    enumerated at trace time.
    """
    candidates = []
    for size in range(num_segments):
        for subset in itertools.combinations(range(num_segments), size):
            whole = tf.add_n([lengths[:, i] for i in subset]) if subset else tf.zeros_like(lengths[:, 0])
            candidates.append(tf.math.floordiv(budget - whole, num_segments - size))
    return tf.reduce_max(tf.stack(candidates, axis=1), axis=1)
