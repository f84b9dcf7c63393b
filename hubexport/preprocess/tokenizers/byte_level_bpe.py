"""RoBERTa's byte-level BPE tokenizer, in the graph, with the ids of `RobertaTokenizerFast`.

Pipeline: GPT-2 pre-tokenization into words (`pre_tokenizers.byte_level`), then each distinct word of
the batch is encoded once: a word whose bytes are a vocabulary entry that BPE maps to itself gets
that id from a hash table, every other word runs through the vectorized merge loop (`models.bpe.merge`)
starting from one token per byte. Offsets follow Hugging Face: a token that starts or ends inside a multi-byte
character covers the whole character, and leading / trailing spaces are trimmed
(`trim_offsets`). All tables are graph constants built from `vocab.json` and `merges.txt` at
construction, so no file path is kept. Input must be valid UTF-8 (as a Python str always is);
invalid bytes do not make it fail, but their ids and offsets are unspecified.
"""

from __future__ import annotations

import tensorflow as tf

from hubexport.preprocess.models.bpe import byte_unicode
from hubexport.preprocess.models.bpe import vocabulary as bpe_vocabulary
from hubexport.preprocess.models.bpe.merge import BpeMerger
from hubexport.preprocess.pre_tokenizers import byte_level
from hubexport.preprocess.tokenizers.base import InGraphTokenizer, SpecialTokens

_SPECIAL_TOKENS = {
    "start_id": "<s>",
    "end_id": "</s>",
    "padding_id": "<pad>",
    "unknown_id": "<unk>",
    "mask_id": "<mask>",
}


def _count_spaces(token: bytes) -> tuple[int, int]:
    """Number of leading and trailing space bytes of a token (what trim_offsets removes)."""
    return len(token) - len(token.lstrip(b" ")), len(token) - len(token.rstrip(b" "))


def _exclusive_cumsum(values: tf.Tensor) -> tf.Tensor:
    return tf.math.cumsum(values, exclusive=True)


class ByteLevelBpeTokenizer(InGraphTokenizer):
    """Byte-level BPE (GPT-2 / RoBERTa) with `RobertaTokenizerFast`'s ids, offsets and decode."""

    packing_style = "roberta"

    def __init__(
        self,
        vocab_file: str,
        merges_file: str,
        add_prefix_space: bool = False,
        name: str | None = None,
    ):
        super().__init__(name=name)
        vocabulary = bpe_vocabulary.load(vocab_file, merges_file)
        missing = [t for t in _SPECIAL_TOKENS.values() if t != "<mask>" and t not in vocabulary.ids]
        if missing:
            raise ValueError(f"{vocab_file} lacks the special tokens {missing}")
        self.add_prefix_space = add_prefix_space
        self.vocab_size = len(vocabulary.tokens)
        self.special_tokens = SpecialTokens(
            **{field: vocabulary.ids.get(token) for field, token in _SPECIAL_TOKENS.items()}
        )
        self._merger = BpeMerger(vocabulary)
        token_bytes = [byte_unicode.token_bytes(token) for token in vocabulary.tokens]
        whole = vocabulary.self_encoding_ids()
        self._whole_words = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant([token_bytes[i] for i in whole], tf.string),
                tf.constant(whole, tf.int32),
            ),
            default_value=-1,
        )
        self._byte_ids = tf.constant(vocabulary.byte_ids, tf.int32)
        self._token_bytes = tf.constant(token_bytes, tf.string)
        self._token_lengths = tf.constant([len(token) for token in token_bytes], tf.int64)
        spaces = [_count_spaces(token) for token in token_bytes]
        self._leading_spaces = tf.constant([lead for lead, _ in spaces], tf.int64)
        self._trailing_spaces = tf.constant([trail for _, trail in spaces], tf.int64)

    def tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """UTF-8 strings [batch] -> int32 token ids [batch, (tokens)], no special tokens added."""
        pieces, _, _, _ = self._pieces(strings)
        tokens, _, _ = self._encode_words(pieces.flat_values, with_offsets=False)
        return pieces.with_flat_values(tokens).merge_dims(1, 2)

    def tokenize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Like `tokenize`, plus int64 start and end byte offsets of each token in its input."""
        pieces, piece_starts, _, prefix = self._pieces(strings)
        tokens, starts, ends = self._encode_words(pieces.flat_values, with_offsets=True)
        piece_start_per_token = tf.repeat(piece_starts.flat_values, tokens.row_lengths())
        ids = pieces.with_flat_values(tokens).merge_dims(1, 2)
        shift = tf.repeat(prefix, ids.row_lengths())
        starts = tf.maximum(piece_start_per_token + starts.flat_values - shift, 0)
        ends = tf.maximum(piece_start_per_token + ends.flat_values - shift, 0)
        starts, ends = self._trim_offsets(ids, starts, ends)
        return ids, ids.with_flat_values(starts), ids.with_flat_values(ends)

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """int32 token ids [batch, (tokens)] -> UTF-8 strings [batch], like Hugging Face's decode:
        the tokens' bytes joined, each invalid UTF-8 sequence replaced by U+FFFD."""
        joined = tf.strings.reduce_join(tf.gather(self._token_bytes, ids), axis=-1)
        return tf.strings.unicode_transcode(joined, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)

    def _pieces(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor, tf.Tensor]:
        """Pre-tokenized words and offsets, plus per string the length (0 or 1) of the space
        that `add_prefix_space` put in front (only of non-empty strings not starting with one)."""
        strings = tf.convert_to_tensor(strings, tf.string)
        prefix = tf.zeros_like(strings, tf.int64)
        if self.add_prefix_space:
            needs_space = tf.logical_and(tf.strings.length(strings) > 0, tf.strings.substr(strings, 0, 1) != " ")
            strings = tf.where(needs_space, tf.strings.join([" ", strings]), strings)
            prefix = tf.cast(needs_space, tf.int64)
        pieces, starts, ends = byte_level.pretokenize_with_offsets(strings)
        return pieces, starts, ends, prefix

    def _encode_words(
        self, words: tf.Tensor, with_offsets: bool
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor | None, tf.RaggedTensor | None]:
        """Words [n] -> token ids [n, (tokens)] and, if asked, token byte offsets in each word.

        Distinct words are encoded once, whole-vocabulary words first, then the rest (BPE)."""
        unique, index = tf.unique(words, out_idx=tf.int32)
        whole_ids = self._whole_words.lookup(unique)
        is_merged = whole_ids < 0
        is_whole = tf.logical_not(is_merged)
        whole_word_ids = tf.boolean_mask(whole_ids, is_whole)
        merge_words = tf.boolean_mask(unique, is_merged)
        num_whole = tf.size(whole_word_ids)
        num_merge = tf.size(merge_words)
        word_lengths = tf.strings.length(merge_words)
        word_bytes = tf.cast(tf.io.decode_raw(tf.strings.reduce_join(merge_words), tf.uint8), tf.int32)
        merged = self._merger(
            tf.gather(self._byte_ids, word_bytes),
            tf.repeat(tf.range(num_merge), word_lengths),
            num_merge,
        )
        row_of_unique = tf.where(
            is_merged,
            num_whole + _exclusive_cumsum(tf.cast(is_merged, tf.int32)),
            _exclusive_cumsum(tf.cast(is_whole, tf.int32)),
        )
        rows = tf.gather(row_of_unique, index)
        row_lengths = tf.concat([tf.ones([num_whole], tf.int64), merged.row_lengths()], axis=0)
        tokens = tf.RaggedTensor.from_row_lengths(tf.concat([whole_word_ids, merged.flat_values], axis=0), row_lengths)
        if not with_offsets:
            return tf.gather(tokens, rows), None, None
        whole_ends = tf.cast(tf.strings.length(tf.boolean_mask(unique, is_whole)), tf.int64)
        merged_starts, merged_ends = self._merged_token_offsets(merged, word_bytes, word_lengths)
        starts = tokens.with_flat_values(tf.concat([tf.zeros_like(whole_ends), merged_starts], 0))
        ends = tokens.with_flat_values(tf.concat([whole_ends, merged_ends], 0))
        return tf.gather(tokens, rows), tf.gather(starts, rows), tf.gather(ends, rows)

    def _merged_token_offsets(
        self, merged: tf.RaggedTensor, word_bytes: tf.Tensor, word_lengths: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Start / end byte offsets of merged tokens in their word, widened to whole characters.

        `word_bytes` are the words' bytes back to back, so token spans are consecutive in it."""
        lengths = tf.gather(self._token_lengths, merged.flat_values)
        starts = _exclusive_cumsum(lengths)
        ends = starts + lengths
        # Byte 0 counts as a character start even if invalid UTF-8 makes it a continuation byte.
        is_char_start = tf.logical_or(
            tf.not_equal(tf.bitwise.bitwise_and(word_bytes, 0xC0), 0x80),
            tf.equal(tf.range(tf.size(word_bytes)), 0),
        )
        char_index = tf.math.cumsum(tf.cast(is_char_start, tf.int64)) - 1
        char_starts = tf.concat([tf.where(is_char_start)[:, 0], tf.shape(word_bytes, out_type=tf.int64)], axis=0)
        starts = tf.gather(char_starts, tf.gather(char_index, starts))
        ends = tf.gather(char_starts, tf.gather(char_index, ends - 1) + 1)
        word_starts = _exclusive_cumsum(tf.cast(word_lengths, tf.int64))
        word_start = tf.gather(word_starts, merged.value_rowids())
        return starts - word_start, ends - word_start

    def _trim_offsets(self, ids: tf.RaggedTensor, starts: tf.Tensor, ends: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Hugging Face's trim_offsets: drop leading / trailing spaces of each token's span, except
        the one leading space of a string's first token when `add_prefix_space` is on."""
        leading = tf.gather(self._leading_spaces, ids.flat_values)
        trailing = tf.gather(self._trailing_spaces, ids.flat_values)
        if self.add_prefix_space:
            position = tf.range(tf.size(ids.flat_values, out_type=tf.int64)) - tf.repeat(
                ids.row_starts(), ids.row_lengths()
            )
            is_first = tf.logical_or(tf.equal(position, 0), tf.equal(starts, 0))
            keep_space = tf.logical_and(is_first, tf.equal(leading, 1))
            leading = tf.where(keep_space, tf.zeros_like(leading), leading)
        starts = tf.minimum(starts + leading, ends)
        ends = tf.where(ends >= trailing, tf.maximum(ends - trailing, starts), ends)
        return starts, ends
