"""The TF-Hub text preprocessor as a `tf.Module`: the object a preprocessor SavedModel holds.

It follows the preprocessor API of TF Hub's BERT models (Model Garden's export_tfhub_lib), so a
loaded export is used the same way:

- `preprocessor(strings)` -> `input_word_ids`, `input_mask`, `input_type_ids` int32
  [batch, default_seq_length] for one segment per example;
- `preprocessor.tokenize(strings)` -> int32 ids [batch, (tokens)];
- `preprocessor.tokenize_with_offsets(strings)` -> (ids, start_offsets, end_offsets);
- `preprocessor.bert_pack_inputs([seg_a, seg_b, ...], seq_length=N)` -> the three encoder inputs,
  for 1 to 3 segments of ragged rank 1 or 2 and any `seq_length` given at call time;
- `preprocessor.detokenize(ids)` -> strings;
- input text that is not valid UTF-8 is repaired first (normalizers/utf8.py: U+FFFD, as Python's
  `errors="replace"`), the same way for every tokenizer;
- `max_seq_length` (the encoder's positions, when the preprocessor is exported for one) bounds
  `default_seq_length` and every `seq_length` given to `bert_pack_inputs`;
- `preprocessor.get_special_tokens_dict()` (also under `tokenize` and `tokenize_with_offsets`)
  -> the special token ids and `vocab_size` as int32 scalars.

`tokenize`, `tokenize_with_offsets` and `bert_pack_inputs` are callable sub-objects, as in Model
Garden, so `hub.KerasLayer(preprocessor.tokenize)` works and `bert_pack_inputs` can keep several
traces (segment counts, ragged ranks) plus an overridable default `seq_length`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from hubexport.errors import ConfigError
from hubexport.preprocess.normalizers.utf8 import replace_invalid_utf8
from hubexport.preprocess.processors import packing, trimming
from hubexport.preprocess.tokenizers.base import InGraphTokenizer

STRINGS = tf.TensorSpec([None], tf.string)


def check_default_seq_length(default_seq_length: int, max_seq_length: int | None) -> None:
    """Refuses a default sequence length the encoder (of `max_seq_length` positions, if any) cannot take."""
    if max_seq_length is not None and default_seq_length > max_seq_length:
        raise ConfigError(
            f"--default_seq_length {default_seq_length} exceeds the encoder's {max_seq_length} "
            "positions (its max_sequence_length)"
        )


class CallableObject(tf.Module):
    """A saved sub-object whose `__call__` is a `tf.function` chosen per instance.

    The function is stored as the instance attribute `__call__`, which is what
    `tf.saved_model.save` records as the object's call; the class-level `__call__` forwards to it
    so the object is also callable before saving.
    """

    def __init__(self, function: Callable, name: str) -> None:
        super().__init__(name=name)
        self.__call__ = function

    def __call__(self, *args, **kwargs):
        return self.__dict__["__call__"](*args, **kwargs)


class PreprocessorModule(tf.Module):
    """Text preprocessing for one tokenizer, saveable as a TF-Hub-style preprocessor."""

    def __init__(
        self,
        tokenizer: InGraphTokenizer,
        default_seq_length: int = 128,
        truncation: str = "round_robin",
        max_seq_length: int | None = None,
    ) -> None:
        super().__init__(name="preprocessor")
        minimum = packing.num_special_tokens(tokenizer.packing_style, 1) + 1
        if default_seq_length < minimum:
            raise ConfigError(f"--default_seq_length must be at least {minimum}, got {default_seq_length}")
        check_default_seq_length(default_seq_length, max_seq_length)
        self.tokenizer = tokenizer
        self.default_seq_length = default_seq_length
        self.max_seq_length = max_seq_length
        self.truncation = trimming.check_truncation(truncation)
        self.get_special_tokens_dict = tf.function(self._special_tokens_dict, input_signature=[])
        # The tokenizers build their graphs with explicit tf.cond / tf.switch_case and no Python control flow on
        # tensors, so autograph would only add conversion time (seconds for WordPiece) to every trace.
        self.tokenize = CallableObject(
            tf.function(self._tokenize, input_signature=[STRINGS], autograph=False), "tokenize"
        )
        self.tokenize.get_special_tokens_dict = self.get_special_tokens_dict
        self.tokenize_with_offsets = CallableObject(
            tf.function(self._tokenize_with_offsets, input_signature=[STRINGS], autograph=False),
            "tokenize_with_offsets",
        )
        self.tokenize_with_offsets.get_special_tokens_dict = self.get_special_tokens_dict
        self.detokenize = tf.function(
            tokenizer.detokenize,
            input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1)],
            autograph=False,
        )
        self.bert_pack_inputs = CallableObject(self._traced_pack_inputs(), "bert_pack_inputs")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def __call__(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        """A batch of texts, one segment each, packed to `default_seq_length`."""
        return self.pack([self.tokenize(text)], self.default_seq_length)

    def pack(self, segments: Sequence[tf.RaggedTensor], seq_length: int | tf.Tensor) -> dict[str, tf.Tensor]:
        """Packs tokenized segments with this tokenizer's special tokens (not traced by itself)."""
        if self.max_seq_length is not None:
            seq_length = self._checked_seq_length(seq_length)
        return packing.pack_inputs(
            segments, seq_length, self.tokenizer.special_tokens, self.tokenizer.packing_style, self.truncation
        )

    def serving_signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """`serving_default` (text) and `serving_pair` (text_a, text_b) -> the three encoder inputs.

        Both call the traced `tokenize`, so the tokenizer's graph is traced and stored once;
        `serving_pair` tokenizes both batches in one call, which keeps its graph half the size.
        """

        def serve_pair(text_a, text_b):
            tokens = self.tokenize(tf.concat([text_a, text_b], axis=0))
            size = tf.shape(text_a, out_type=tf.int64)[0]
            return self.pack([tokens[:size], tokens[size:]], self.default_seq_length)

        return {
            "serving_default": self.__call__.get_concrete_function(),
            "serving_pair": tf.function(serve_pair).get_concrete_function(
                tf.TensorSpec([None], tf.string, name="text_a"), tf.TensorSpec([None], tf.string, name="text_b")
            ),
        }

    def _tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        return self.tokenizer.tokenize(replace_invalid_utf8(strings))

    def _tokenize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        return self.tokenizer.tokenize_with_offsets(replace_invalid_utf8(strings))

    def _checked_seq_length(self, seq_length: int | tf.Tensor) -> int | tf.Tensor:
        """`seq_length`, refused (ConfigError now, or InvalidArgumentError when the graph runs) beyond
        the encoder's positions."""
        message = f"seq_length exceeds max_sequence_length {self.max_seq_length} of the encoder"
        if isinstance(seq_length, int):
            if seq_length > self.max_seq_length:
                raise ConfigError(f"{message}: {seq_length}")
            return seq_length
        check = tf.debugging.assert_less_equal(
            tf.cast(seq_length, tf.int64), tf.constant(self.max_seq_length, tf.int64), message=message
        )
        with tf.control_dependencies([check]):
            return tf.identity(seq_length)

    def special_tokens_values(self) -> dict[str, int]:
        """Model Garden's special token names (plus `unknown_id`) and `vocab_size`."""
        return dict(self.tokenizer.special_tokens.as_dict(), vocab_size=self.tokenizer.vocab_size)

    def _special_tokens_dict(self) -> dict[str, tf.Tensor]:
        """`special_tokens_values` as int32 scalars: the saved `get_special_tokens_dict`."""
        return {name: tf.constant(value, tf.int32) for name, value in self.special_tokens_values().items()}

    def _traced_pack_inputs(self) -> tf.types.experimental.PolymorphicFunction:
        """`bert_pack_inputs`, pre-traced for 1-3 segments of ragged rank 1 and 2.

        `seq_length` is traced as a scalar tensor, so a loaded model accepts any value (a Python
        int too) and falls back to `default_seq_length` when it is left out.
        """

        def bert_pack_inputs(inputs, seq_length=self.default_seq_length):
            return self.pack(inputs, seq_length)

        function = tf.function(bert_pack_inputs, autograph=False)
        for ragged_rank in (1, 2):
            segment = tf.RaggedTensorSpec([None] * (ragged_rank + 1), tf.int32, ragged_rank=ragged_rank)
            for num_segments in range(1, packing.MAX_SEGMENTS + 1):
                # Named as tf.saved_model.save names it when it re-gets each trace (a TensorSpec's name is part of
                # the cache key), so saving finds these traces instead of redoing them.
                function.get_concrete_function(
                    [segment] * num_segments, seq_length=tf.TensorSpec([], tf.int32, name="seq_length")
                )
        return function
