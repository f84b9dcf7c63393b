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
- `preprocessor.get_special_tokens_dict()` (also under `tokenize` and `tokenize_with_offsets`)
  -> the special token ids and `vocab_size` as int32 scalars.

`tokenize`, `tokenize_with_offsets` and `bert_pack_inputs` are callable sub-objects, as in Model
Garden, so `hub.KerasLayer(preprocessor.tokenize)` works and `bert_pack_inputs` can keep several
traces (segment counts, ragged ranks) plus an overridable default `seq_length`.
"""
from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

from hubexport.errors import ConfigError
from hubexport.preprocess.processors import packing, trimming
from hubexport.preprocess.tokenizers.base import InGraphTokenizer

STRINGS = tf.TensorSpec([None], tf.string)


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
    ) -> None:
        super().__init__(name="preprocessor")
        minimum = packing.num_special_tokens(tokenizer.packing_style, 1) + 1
        if default_seq_length < minimum:
            raise ConfigError(f"--default_seq_length must be at least {minimum}, got {default_seq_length}")
        self.tokenizer = tokenizer
        self.default_seq_length = default_seq_length
        self.truncation = trimming.check_truncation(truncation)
        self.get_special_tokens_dict = tf.function(self._special_tokens_dict, input_signature=[])
        self.tokenize = CallableObject(tf.function(tokenizer.tokenize, input_signature=[STRINGS]), "tokenize")
        self.tokenize.get_special_tokens_dict = self.get_special_tokens_dict
        self.tokenize_with_offsets = CallableObject(
            tf.function(tokenizer.tokenize_with_offsets, input_signature=[STRINGS]), "tokenize_with_offsets"
        )
        self.tokenize_with_offsets.get_special_tokens_dict = self.get_special_tokens_dict
        self.detokenize = tf.function(
            tokenizer.detokenize, input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1)]
        )
        self.bert_pack_inputs = CallableObject(self._traced_pack_inputs(), "bert_pack_inputs")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def __call__(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        """A batch of texts, one segment each, packed to `default_seq_length`."""
        return self.pack([self.tokenize(text)], self.default_seq_length)

    def pack(self, segments: Sequence[tf.RaggedTensor], seq_length: int | tf.Tensor) -> dict[str, tf.Tensor]:
        """Packs tokenized segments with this tokenizer's special tokens (not traced by itself)."""
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
                function.get_concrete_function([segment] * num_segments, seq_length=tf.TensorSpec([], tf.int32))
        return function
