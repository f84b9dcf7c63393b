"""The BPE merge loop in the graph, vectorized over all words of a batch at once.

Each step finds, in every word, the adjacent pair with the lowest merge rank and merges all its
non-overlapping occurrences left to right; the loop ends when no word has a pair left to merge.
This is GPT-2's algorithm, and Hugging Face's for merges learned in order (every merge that uses
a token comes after the merge that made it).
"""

from __future__ import annotations

import tensorflow as tf

from hubexport.preprocess.models.bpe.vocabulary import BpeVocabulary

_WORD_SHIFT = 32
_SYMBOL_MASK = (1 << _WORD_SHIFT) - 1


def _alternate_in_runs(candidates: tf.Tensor, previous: tf.Tensor) -> tf.Tensor:
    """Keeps the 1st, 3rd, ... of each run of consecutive candidates."""
    run_starts = tf.logical_and(candidates, tf.logical_not(previous))
    run_number = tf.math.cumsum(tf.cast(run_starts, tf.int32))
    start_position = tf.concat([[0], tf.cast(tf.where(run_starts)[:, 0], tf.int32)], axis=0)
    position = tf.range(tf.shape(candidates)[0])
    offset_in_run = position - tf.gather(start_position, run_number)
    return tf.logical_and(candidates, tf.equal(offset_in_run % 2, 0))


def _leftmost_non_overlapping(candidates: tf.Tensor) -> tf.Tensor:
    """The candidate pairs a left-to-right scan merges: in a run of overlapping ones (the pair
    "a a" in "a a a a"), the 1st, 3rd, ... pair. Runs are rare, so they get their own branch."""
    previous = tf.concat([[False], candidates[:-1]], axis=0)
    return tf.cond(
        tf.reduce_any(tf.logical_and(candidates, previous)),
        lambda: _alternate_in_runs(candidates, previous),
        lambda: candidates,
    )


class BpeMerger(tf.Module):
    """Holds the merge table (pair -> rank -> merged token) and runs the merge loop.

    The loop state is one int64 per symbol, `word << 32 | token id`, in word order. Each step
    moves the symbols of words that have nothing left to merge out of the state, so later steps
    (needed only by the batch's longest words) touch few symbols.
    """

    def __init__(self, vocabulary: BpeVocabulary, name: str | None = None):
        super().__init__(name=name)
        self._vocab_size = len(vocabulary.tokens)
        self._no_merge = len(vocabulary.merges)
        keys = [left * self._vocab_size + right for left, right, _ in vocabulary.merges]
        ranks = list(range(len(vocabulary.merges)))
        self._pair_ranks = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.int64), tf.constant(ranks, tf.int32)),
            default_value=self._no_merge,
        )
        # Index `no_merge` is a placeholder so that every rank, merging or not, can be gathered.
        merged_ids = [merged for _, _, merged in vocabulary.merges] + [0]
        self._merged_ids = tf.constant(merged_ids, tf.int64)

    def __call__(self, symbols: tf.Tensor, word_ids: tf.Tensor, num_words: tf.Tensor) -> tf.RaggedTensor:
        """Token ids int32 [n] of words `word_ids` int32 [n] (sorted, in 0..num_words-1) ->
        the merged tokens, [num_words, (tokens)]."""
        state = tf.bitwise.bitwise_or(
            tf.bitwise.left_shift(tf.cast(word_ids, tf.int64), _WORD_SHIFT),
            tf.cast(symbols, tf.int64),
        )
        finished = tf.TensorArray(tf.int64, size=1, dynamic_size=True, infer_shape=False)
        finished = finished.write(0, tf.zeros([0], tf.int64))

        def step(i, state, finished):
            tokens = tf.bitwise.bitwise_and(state, _SYMBOL_MASK)
            words = tf.bitwise.right_shift(state, _WORD_SHIFT)
            pair_words = words[:-1]
            keys = tokens[:-1] * self._vocab_size + tokens[1:]
            ranks = tf.where(tf.equal(pair_words, words[1:]), self._pair_ranks.lookup(keys), self._no_merge)
            best = tf.math.unsorted_segment_min(ranks, pair_words, num_words)
            merge = _leftmost_non_overlapping(
                tf.logical_and(tf.equal(ranks, tf.gather(best, pair_words)), ranks < self._no_merge)
            )
            merged = state[:-1] - tokens[:-1] + tf.gather(self._merged_ids, ranks)
            state = tf.concat([tf.where(merge, merged, state[:-1]), state[-1:]], axis=0)
            # 0: still merging, 1: word done (nothing left to merge), 2: merged into its left.
            word_done = tf.gather(best >= self._no_merge, words)
            part = tf.cast(word_done, tf.int32) + 2 * tf.cast(tf.concat([[False], merge], axis=0), tf.int32)
            state, done, _ = tf.dynamic_partition(state, part, 3)
            return i + 1, state, finished.write(i, done)

        _, _, finished = tf.while_loop(
            lambda i, state, finished: tf.size(state) > 0,
            step,
            (tf.constant(1), state, finished),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([None]), None),
        )
        # Words leave the loop in the order they finish; a stable sort restores word order.
        finished = finished.concat()
        words = tf.bitwise.right_shift(finished, _WORD_SHIFT)
        order = tf.argsort(words, stable=True)
        return tf.RaggedTensor.from_value_rowids(
            tf.cast(tf.bitwise.bitwise_and(tf.gather(finished, order), _SYMBOL_MASK), tf.int32),
            tf.gather(words, order),
            nrows=tf.cast(num_words, tf.int64),
        )
