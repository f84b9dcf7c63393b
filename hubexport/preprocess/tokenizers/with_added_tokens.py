"""Any in-graph tokenizer plus its added tokens: the text is split on them first (`added_tokens.split`),
their ids are emitted as they are, and the pieces between them go through the tokenizer.

A batch in which no token to recognise occurs (one RE2 scan of each line decides) goes through the
tokenizer as it is; the tokenizer sits outside every tf.cond, so it is traced once.
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
        return self._tokenize(strings, with_offsets=False)[0]

    def tokenize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Like `tokenize`, plus int64 start and end byte offsets of each token in its input (an added
        token's span includes the whitespace it strips)."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if self._splitter is None:
            return self.tokenizer.tokenize_with_offsets(strings)
        return self._tokenize(strings, with_offsets=True)

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """The tokenizer's `detokenize`; added ids beyond its vocabulary are left out."""
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        return self.tokenizer.detokenize(tf.ragged.boolean_mask(ids, ids < self.tokenizer.vocab_size))

    def _tokenize(self, strings: tf.Tensor, with_offsets: bool) -> tuple[tf.RaggedTensor, ...]:
        """The tokenizer runs once, outside any tf.cond (a branch holding it costs a function call
        per batch): on the lines themselves when no token occurs (one RE2 scan decides), else on the
        text pieces between the tokens, whose tokens are then put back in order around their ids."""
        found = self._splitter.occurs(strings)
        pieces = tf.cond(found, lambda: self._splitter.split(strings), lambda: _whole_lines(strings))
        is_text = pieces.ids.flat_values < 0
        text = tf.boolean_mask(pieces.text.flat_values, is_text)
        if with_offsets:
            outputs = self.tokenizer.tokenize_with_offsets(text)
        else:
            outputs = (self.tokenizer.tokenize(text),)
        return tf.cond(found, lambda: self._in_order(pieces, outputs), lambda: outputs)

    def _in_order(self, pieces: Pieces, outputs: tuple[tf.RaggedTensor, ...]) -> tuple[tf.RaggedTensor, ...]:
        """The text pieces' tokens (`outputs`: ids, and offsets in each piece if given) and the added
        tokens, each piece's in its place, as [batch, (tokens)]; offsets moved into the input."""
        ids = pieces.ids.flat_values
        is_text = ids < 0
        token_ids = tf.boolean_mask(ids, ~is_text)
        num_text = tf.reduce_sum(tf.cast(is_text, tf.int64))
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

        if len(outputs) == 1:
            return (in_order(outputs[0], token_ids),)
        text_ids, text_starts, text_ends = outputs
        shift = tf.repeat(tf.boolean_mask(pieces.starts.flat_values, is_text), text_ids.row_lengths())
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


def _whole_lines(strings: tf.Tensor) -> Pieces:
    """Each line as one text piece: what `AddedTokenSplitter.split` gives when no token occurs."""
    one = tf.ones_like(strings, tf.int64)

    def rows(values: tf.Tensor) -> tf.RaggedTensor:
        return tf.RaggedTensor.from_row_lengths(values, one, validate=False)

    lengths = tf.cast(tf.strings.length(strings), tf.int64)
    return Pieces(rows(strings), rows(tf.zeros_like(lengths)), rows(lengths), rows(-tf.ones_like(strings, tf.int32)))
