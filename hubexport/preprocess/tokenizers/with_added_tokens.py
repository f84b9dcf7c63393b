"""Any in-graph tokenizer plus its added tokens: the text is split on them first (`added_tokens.split`),
their ids are emitted as they are, and the pieces between them go through the tokenizer.

A batch in which no token to recognise occurs takes the tokenizer alone (one RE2 scan of each line
decides), so plain text costs almost nothing extra.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from hubexport.preprocess.added_tokens.split import AddedTokenSplitter, Pieces
from hubexport.preprocess.added_tokens.vocabulary import AddedToken
from hubexport.preprocess.tokenizers.base import InGraphTokenizer


class WithAddedTokens(InGraphTokenizer):
    """`tokenizer` honouring `added_tokens` as Hugging Face does (see `added_tokens.split`).

    `lowercase`: whether the tokenizer lowercases (its `normalized` tokens then match any case);
    `trim_offsets`: whether an added token's offsets leave out the whitespace it strips.
    `vocab_size` covers the added ids beyond the tokenizer's vocabulary.
    """

    def __init__(
        self,
        tokenizer: InGraphTokenizer,
        added_tokens: Sequence[AddedToken],
        lowercase: bool,
        split_special_tokens: bool = False,
        trim_offsets: bool = False,
    ) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.added_tokens = tuple(added_tokens)
        self.split_special_tokens = split_special_tokens
        self.special_tokens = tokenizer.special_tokens
        self.packing_style = tokenizer.packing_style
        self.vocab_size = max([tokenizer.vocab_size] + [token.id + 1 for token in self.added_tokens])
        recognised = [token for token in self.added_tokens if not (split_special_tokens and token.special)]
        # Nothing to recognise (only special tokens, split as text): the tokenizer alone.
        self._splitter = (
            AddedTokenSplitter(self.added_tokens, lowercase, split_special_tokens, trim_offsets) if recognised else None
        )

    @property
    def scheme(self) -> str:
        """The wrapped tokenizer's scheme."""
        return self.tokenizer.scheme

    def tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """UTF-8 strings [batch] -> int32 ids [batch, (tokens)], no special tokens added."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if self._splitter is None:
            return self.tokenizer.tokenize(strings)
        return tf.cond(
            self._splitter.occurs(strings),
            lambda: self._tokenize_pieces(self._splitter.split(strings), with_offsets=False)[0],
            lambda: self.tokenizer.tokenize(strings),
        )

    def tokenize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Like `tokenize`, plus int64 start and end byte offsets of each token in its input (an added
        token's span includes the whitespace it strips)."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if self._splitter is None:
            return self.tokenizer.tokenize_with_offsets(strings)
        return tf.cond(
            self._splitter.occurs(strings),
            lambda: self._tokenize_pieces(self._splitter.split(strings), with_offsets=True),
            lambda: self.tokenizer.tokenize_with_offsets(strings),
        )

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """The tokenizer's `detokenize`; added ids beyond its vocabulary are left out."""
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        return self.tokenizer.detokenize(tf.ragged.boolean_mask(ids, ids < self.tokenizer.vocab_size))

    def _tokenize_pieces(self, pieces: Pieces, with_offsets: bool) -> tuple[tf.RaggedTensor, ...]:
        """Tokenizes the text pieces in one batch and puts every piece's tokens back in order."""
        ids = pieces.ids.flat_values
        is_text = ids < 0
        text = tf.boolean_mask(pieces.text.flat_values, is_text)
        token_ids = tf.boolean_mask(ids, ~is_text)
        num_text = tf.size(text, out_type=tf.int64)
        # Index of each piece's row in [text pieces' tokens; one row per added token].
        order = tf.where(
            is_text,
            tf.cumsum(tf.cast(is_text, tf.int64), exclusive=True),
            num_text + tf.cumsum(tf.cast(~is_text, tf.int64), exclusive=True),
        )
        single = tf.RaggedTensor.from_row_lengths(token_ids, tf.ones_like(token_ids, tf.int64), validate=False)

        def in_order(text_values: tf.RaggedTensor, token_values: tf.Tensor) -> tf.RaggedTensor:
            rows = tf.concat([text_values, single.with_flat_values(token_values)], 0)
            per_piece = tf.gather(rows, order)
            return tf.RaggedTensor.from_row_splits(
                per_piece.flat_values,
                tf.gather(per_piece.row_splits, pieces.ids.row_splits),
                validate=False,
            )

        if not with_offsets:
            return (in_order(self.tokenizer.tokenize(text), token_ids),)
        text_ids, text_starts, text_ends = self.tokenizer.tokenize_with_offsets(text)
        text_base = tf.boolean_mask(pieces.starts.flat_values, is_text)
        shift = tf.repeat(text_base, text_ids.row_lengths())
        return (
            in_order(text_ids, token_ids),
            in_order(
                text_starts.with_flat_values(text_starts.flat_values + shift),
                tf.boolean_mask(pieces.starts.flat_values, ~is_text),
            ),
            in_order(
                text_ends.with_flat_values(text_ends.flat_values + shift),
                tf.boolean_mask(pieces.ends.flat_values, ~is_text),
            ),
        )
