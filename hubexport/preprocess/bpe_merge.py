"""The BPE merge loop in the graph, vectorized over all words of a batch at once.

Each step finds, in every word, the adjacent pair with the lowest merge rank and merges all its
non-overlapping occurrences left to right; the loop ends when no word has a pair left to merge.
This is GPT-2's algorithm, and Hugging Face's for merges learned in order (every merge that uses
a token comes after the merge that made it).
"""
from __future__ import annotations

import tensorflow as tf

from hubexport.preprocess.bpe_vocabulary import BpeVocabulary


def _leftmost_non_overlapping(candidates: tf.Tensor) -> tf.Tensor:
    """Of runs of consecutive candidate pairs (e.g. "a a a" merging "a a"), keeps the 1st, 3rd,
    ... pair of each run: what a left-to-right scan that skips overlapped pairs merges."""
    previous = tf.concat([[False], candidates[:-1]], axis=0)
    run_starts = tf.logical_and(candidates, tf.logical_not(previous))
    run_number = tf.math.cumsum(tf.cast(run_starts, tf.int32))
    start_position = tf.concat([[0], tf.cast(tf.where(run_starts)[:, 0], tf.int32)], axis=0)
    position = tf.range(tf.shape(candidates)[0])
    offset_in_run = position - tf.gather(start_position, run_number)
    return tf.logical_and(candidates, tf.equal(offset_in_run % 2, 0))


class BpeMerger(tf.Module):
    """Holds the merge table (pair -> rank -> merged token) and runs the merge loop."""

    def __init__(self, vocabulary: BpeVocabulary, name: str | None = None):
        super().__init__(name=name)
        self._vocab_size = len(vocabulary.tokens)
        self._no_merge = len(vocabulary.merges)
        keys = [left * self._vocab_size + right for left, right, _ in vocabulary.merges]
        ranks = list(range(len(vocabulary.merges)))
        self._pair_ranks = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.int64), tf.constant(ranks, tf.int32)
            ),
            default_value=self._no_merge,
        )
        # Index `no_merge` is a placeholder so that every rank, merging or not, can be gathered.
        self._merged_ids = tf.constant([merged for _, _, merged in vocabulary.merges] + [-1], tf.int32)

    def __call__(self, symbols: tf.Tensor, word_ids: tf.Tensor, num_words: tf.Tensor) -> tf.RaggedTensor:
        """Token ids int32 [n] of words `word_ids` int32 [n] (sorted, in 0..num_words-1) ->
        the merged tokens, [num_words, (tokens)]."""

        def step(symbols, word_ids, _):
            pair_words = word_ids[:-1]
            keys = tf.cast(symbols[:-1], tf.int64) * self._vocab_size + tf.cast(symbols[1:], tf.int64)
            ranks = tf.where(
                tf.equal(pair_words, word_ids[1:]), self._pair_ranks.lookup(keys), self._no_merge
            )
            best = tf.math.unsorted_segment_min(ranks, pair_words, num_words)
            candidates = tf.logical_and(
                tf.equal(ranks, tf.gather(best, pair_words)), ranks < self._no_merge
            )
            merge = _leftmost_non_overlapping(candidates)
            merged = tf.where(merge, tf.gather(self._merged_ids, ranks), symbols[:-1])
            keep = tf.concat([[True], tf.logical_not(merge)], axis=0)
            symbols = tf.boolean_mask(tf.concat([merged, symbols[-1:]], axis=0), keep)
            return symbols, tf.boolean_mask(word_ids, keep), tf.reduce_any(merge)

        symbols, word_ids, _ = tf.while_loop(
            lambda symbols, word_ids, merged_any: merged_any,
            step,
            (symbols, word_ids, tf.size(symbols) > 1),
            shape_invariants=(tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([])),
        )
        return tf.RaggedTensor.from_value_rowids(
            symbols, tf.cast(word_ids, tf.int64), nrows=tf.cast(num_words, tf.int64)
        )
