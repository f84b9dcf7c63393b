"""BERT / ELECTRA WordPiece tokenization in the TensorFlow graph, id for id equal to Hugging Face's
`BertTokenizerFast` (BertNormalizer + BertPreTokenizer + WordPiece).

Two paths. Lines made of characters on which tf.text's BERT normalizer and end-to-end
FastWordpieceTokenizer provably agree with HF (see `tokenizers.wordpiece_fast_path`; all printable ASCII,
most letters, punctuation and CJK) take those two C++ ops (printable ASCII needs only ASCII
lowercasing, not the normalizer). Every other line goes through `BertPreTokenizer`, which
reproduces HF's normalizer and pre-tokenizer on every code point, and then through
FastWordpieceTokenizer word by word, with HF's 100-character (not byte) word limit applied here.
"""

from __future__ import annotations

import os

import tensorflow as tf
import tensorflow_text as tf_text

from hubexport import user_files
from hubexport.errors import TokenizerFilesError
from hubexport.preprocess.pre_tokenizers.bert import BertPreTokenizer, row_ids
from hubexport.preprocess.tokenizers import wordpiece_fast_path as fast_path
from hubexport.preprocess.tokenizers.base import InGraphTokenizer, SpecialTokens

MAX_CHARS_PER_WORD = 100  # HF WordPiece max_input_chars_per_word: longer words become [UNK]
WORD_BYTES = 4 * MAX_CHARS_PER_WORD  # no word within the limit is longer in UTF-8
LONG_WORD = "x" * (WORD_BYTES + 1)  # stands in for a word over the limit: FastWordpiece -> [UNK]
SHARDS = 2  # slices of a batch tokenized in parallel (tf.text's kernels are single-threaded)
SUFFIX_PREFIX = "##"
UNKNOWN, START, END, PADDING, MASK = "[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"
# HF's WordPiece decoder cleans each token (after prefixing it with a space), in this order.
DECODER_CLEANUP = (
    (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
    (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
)  # fmt: skip


def read_vocab(vocab_file: str | os.PathLike) -> list[str]:
    """One token per line, as HF's `load_vocab` reads it (newline stripped, nothing else); TokenizerFilesError
    naming the file if it cannot be read or is not UTF-8."""
    text = user_files.read_text(vocab_file, error=TokenizerFilesError, what="WordPiece vocabulary")
    return user_files.text_lines(text)


def _re2_literal(text: str) -> str:
    return "".join("\\" + ch if not ch.isalnum() and ch != " " else ch for ch in text)


def _in_input_order(first_rows, first, second_rows, second):
    """Stitches the rows of two partial results (tuples of ragged tensors) back in input order."""
    inverse = tf.math.invert_permutation(tf.concat([first_rows, second_rows], axis=0))
    return tuple(tf.gather(tf.concat([a, b], axis=0), inverse) for a, b in zip(first, second))


def _source_offsets(
    offsets: tf.RaggedTensor, starts: tf.RaggedTensor, ends: tf.RaggedTensor
) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """Token offsets in the normalized lines -> input byte offsets: `offsets[b, starts[b, t]]` and
    `offsets[b, ends[b, t]]`, int64 [batch, (tokens)], from the normalizer's int64 offset map [batch, (bytes + 1)] and
    int64 starts and ends [batch, (tokens)] sharing row splits. A flat gather at flat indices: a ragged
    `tf.gather(..., batch_dims=-1)` computes the same but traces into many more ops and functions."""
    flat_base = tf.gather(offsets.row_splits, row_ids(starts.row_splits))
    return tuple(
        token_offsets.with_flat_values(tf.gather(offsets.flat_values, flat_base + token_offsets.flat_values))
        for token_offsets in (starts, ends)
    )


class WordPieceTokenizer(InGraphTokenizer):
    """Text to WordPiece ids (and back) exactly as `BertTokenizerFast(vocab_file, do_lower_case=
    lowercase, strip_accents=..., tokenize_chinese_chars=...)` does, without special tokens.

    `strip_accents=None` follows `lowercase`, as in HF.
    """

    def __init__(
        self,
        vocab_file: str,
        lowercase: bool,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
    ):
        super().__init__()
        vocab = read_vocab(vocab_file)
        ids = {token: i for i, token in enumerate(vocab)}
        missing = [token for token in (START, END, PADDING, UNKNOWN) if token not in ids]
        if missing:
            raise ValueError(f"the WordPiece vocabulary {vocab_file} lacks {', '.join(missing)}")
        self.vocab_file = tf.saved_model.Asset(str(vocab_file))
        self.vocab_size = len(vocab)
        self.packing_style = "bert"
        self.special_tokens = SpecialTokens(
            start_id=ids[START],
            end_id=ids[END],
            padding_id=ids[PADDING],
            unknown_id=ids[UNKNOWN],
            mask_id=ids.get(MASK),
        )
        strip_accents = lowercase if strip_accents is None else strip_accents
        config = (lowercase, strip_accents, tokenize_chinese_chars)
        self._lowercase = lowercase
        self._ascii_lowercase_first = fast_path.ascii_lowercase_first(lowercase, strip_accents)
        self._agreeing_line, self._long_word_line = fast_path.line_patterns(*config)
        self._pretokenizer = BertPreTokenizer(*config)
        wordpiece = dict(vocab=vocab, suffix_indicator=SUFFIX_PREFIX, unknown_token=UNKNOWN)
        self._fast_normalizer = tf_text.FastBertNormalizer(
            lower_case_nfd_strip_accents=fast_path.fast_normalizer_lowercases(*config[:2])
        )
        self._line_wordpiece = tf_text.FastWordpieceTokenizer(
            max_bytes_per_word=MAX_CHARS_PER_WORD,
            no_pretokenization=False,
            token_out_type=tf.int32,
            **wordpiece,
        )
        self._word_wordpiece = tf_text.FastWordpieceTokenizer(
            max_bytes_per_word=WORD_BYTES,
            no_pretokenization=True,
            token_out_type=tf.int32,
            **wordpiece,
        )
        self._id_to_token = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                self.vocab_file,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
            ),
            default_value="",
        )
        skipped = set(self.special_tokens.as_dict().values())  # what HF's decode skips
        self._skipped_ids = tf.constant(sorted(skipped), tf.int64)

    def tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """UTF-8 strings [batch] -> int32 ids [batch, (tokens)], skipping all offset work."""
        return self._tokenize(strings, with_offsets=False)[0]

    def tokenize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """UTF-8 strings [batch] -> int32 ids, int64 start and end byte offsets, each
        [batch, (tokens)]."""
        return self._tokenize(strings, with_offsets=True)

    def _tokenize(self, strings: tf.Tensor, with_offsets: bool) -> tuple[tf.RaggedTensor, ...]:
        """Tokenizes SHARDS slices of the batch as independent subgraphs, which TensorFlow runs
        on parallel inter-op threads (tf.text's kernels use one thread per call)."""
        strings = tf.convert_to_tensor(strings, tf.string)
        size = tf.size(strings)
        bounds = [size * i // SHARDS for i in range(SHARDS + 1)]
        shards = [self._tokenize_lines(strings[start:end], with_offsets) for start, end in zip(bounds[:-1], bounds[1:])]
        return tuple(tf.concat(parts, axis=0) for parts in zip(*shards))

    def _tokenize_lines(self, strings: tf.Tensor, with_offsets: bool):
        """Routes each line to tf.text's fast ops or to the exact path (whole batch when all
        lines go the same way)."""
        is_ascii = tf.strings.regex_full_match(strings, fast_path.ASCII_LINE)

        def ascii_only():
            return self._tokenize_ascii(strings, with_offsets)

        def fast_only():
            return self._tokenize_fast(strings, with_offsets)

        def general_only():
            return self._tokenize_general(strings, with_offsets)

        def partitioned():
            fast = is_ascii | (
                tf.strings.regex_full_match(strings, self._agreeing_line)
                & ~tf.strings.regex_full_match(strings, self._long_word_line)
            )

            def both():
                fast_rows = tf.reshape(tf.where(fast), [-1])
                other_rows = tf.reshape(tf.where(~fast), [-1])
                return _in_input_order(
                    fast_rows,
                    self._tokenize_fast(tf.gather(strings, fast_rows), with_offsets),
                    other_rows,
                    self._tokenize_general(tf.gather(strings, other_rows), with_offsets),
                )

            branch = tf.where(tf.reduce_all(fast), 0, tf.where(tf.reduce_any(fast), 2, 1))
            return tf.switch_case(branch, [fast_only, general_only, both])

        return tf.cond(tf.reduce_all(is_ascii), ascii_only, partitioned)

    def _tokenize_ascii(self, strings: tf.Tensor, with_offsets: bool):
        """Printable ASCII lines: HF's normalizer at most lowercases them, byte for byte, and
        tf.text's end-to-end WordPiece splits them exactly like HF."""
        text = tf.strings.lower(strings) if self._lowercase else strings
        if with_offsets:
            return self._line_wordpiece.tokenize_with_offsets(text)
        return (self._line_wordpiece.tokenize(text),)

    def _tokenize_fast(self, strings: tf.Tensor, with_offsets: bool):
        """Lines of characters where tf.text agrees with HF: tf.text's BERT normalizer, then its
        end-to-end WordPiece (what its FastBertTokenizer does), offsets mapped back through
        the normalizer's offset map (ASCII lowercasing first moves no byte)."""
        if self._ascii_lowercase_first:
            strings = tf.strings.lower(strings)
        if not with_offsets:
            return (self._line_wordpiece.tokenize(self._fast_normalizer.normalize(strings)),)
        normalized, offsets = self._fast_normalizer.normalize_with_offsets(strings)
        ids, starts, ends = self._line_wordpiece.tokenize_with_offsets(normalized)
        return (ids, *_source_offsets(offsets, starts, ends))

    def _tokenize_general(self, strings: tf.Tensor, with_offsets: bool):
        """Any lines: exact normalization and split, then WordPiece per word."""
        words = self._pretokenizer.split(strings)
        word_text = words.words.flat_values
        too_long = words.normalized_starts.row_lengths() > MAX_CHARS_PER_WORD
        word_inputs = tf.where(too_long, LONG_WORD, word_text)
        if not with_offsets:
            ids = self._word_wordpiece.tokenize(word_inputs)
            line_splits = tf.gather(ids.row_splits, words.words.row_splits)
            return (tf.RaggedTensor.from_row_splits(ids.flat_values, line_splits, validate=False),)
        ids, starts, ends = self._word_wordpiece.tokenize_with_offsets(word_inputs)
        # Token byte offsets inside the normalized word -> its first and last normalized character
        # (clipped: the stand-in of a long word is longer than the word) -> input byte offsets.
        word_bytes = tf.cast(tf.strings.length(word_text), tf.int64)
        word_base = tf.cumsum(word_bytes, exclusive=True)
        char_keys = words.normalized_starts.flat_values + tf.gather(
            word_base, row_ids(words.normalized_starts.row_splits)
        )
        token_word = row_ids(ids.row_splits)
        token_base = tf.gather(word_base, token_word)
        limit = tf.gather(word_bytes, token_word)
        first = tf.searchsorted(char_keys, token_base + tf.minimum(starts.flat_values, limit))
        last = tf.searchsorted(char_keys, token_base + tf.minimum(ends.flat_values, limit)) - 1
        line_splits = tf.gather(ids.row_splits, words.words.row_splits)
        return tuple(
            tf.RaggedTensor.from_row_splits(values, line_splits, validate=False)
            for values in (
                ids.flat_values,
                tf.gather(words.source_starts.flat_values, first),
                tf.gather(words.source_ends.flat_values, last),
            )
        )

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """Ids -> text as HF `decode(ids, skip_special_tokens=True,
        clean_up_tokenization_spaces=False)`: special and out-of-vocabulary ids dropped,
        `##` pieces glued to the previous token (not on the first one), others joined with
        a space, then the decoder's per-token cleanup."""
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        ids = tf.cast(ids, tf.int64)
        special = tf.reduce_any(tf.equal(ids.flat_values[:, None], self._skipped_ids[None, :]), 1)
        known = (ids.flat_values >= 0) & (ids.flat_values < self.vocab_size) & ~special
        ids = tf.ragged.boolean_mask(ids, ids.with_flat_values(known))
        tokens = self._id_to_token.lookup(ids.flat_values)
        row = row_ids(ids.row_splits)
        position = tf.range(tf.size(row, out_type=tf.int64))
        is_first = tf.equal(position, tf.gather(ids.row_starts(), row))
        is_suffix = tf.equal(tf.strings.substr(tokens, 0, len(SUFFIX_PREFIX)), SUFFIX_PREFIX)
        pieces = tf.where(
            is_first,
            tokens,
            tf.where(
                is_suffix,
                tf.strings.regex_replace(tokens, "^" + _re2_literal(SUFFIX_PREFIX), ""),
                tf.strings.join([" ", tokens]),
            ),
        )
        for pattern, rewrite in DECODER_CLEANUP:
            pieces = tf.strings.regex_replace(pieces, _re2_literal(pattern), rewrite)
        return tf.strings.unsorted_segment_join(pieces, row, ids.nrows())
