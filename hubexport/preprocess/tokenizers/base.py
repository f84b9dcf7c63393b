"""The contract every in-graph tokenizer of hubexport fulfils.

A tokenizer is a `tf.Module` so that its lookup tables and asset files are tracked and travel
inside the SavedModel that holds it. All methods take and return tensors and use only TensorFlow
and tensorflow-text ops, so they can be traced into a graph and served without Python.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class SpecialTokens:
    """Ids of the tokens that packing and masking need.

    `start_id` is `[CLS]` or `<s>`, `end_id` is `[SEP]` or `</s>`.
    """

    start_id: int
    end_id: int
    padding_id: int
    unknown_id: int
    mask_id: int | None

    def as_dict(self) -> dict[str, int]:
        """The ids under Model Garden's `get_special_tokens_dict` names, plus `unknown_id`."""
        ids = {
            "start_of_sequence_id": self.start_id,
            "end_of_segment_id": self.end_id,
            "padding_id": self.padding_id,
            "unknown_id": self.unknown_id,
        }
        if self.mask_id is not None:
            ids["mask_id"] = self.mask_id
        return ids


class InGraphTokenizer(tf.Module):
    """Base class: text to ids and back, entirely inside the TensorFlow graph.

    Subclasses set `special_tokens`, `vocab_size` and `packing_style` ("bert" for
    `[CLS] A [SEP] B [SEP]`, "roberta" for `<s> A </s></s> B </s>`) in their constructor.
    `added_tokens` are the tokens split out of the text before tokenizing (none unless a tokenizer
    honours them), `split_special_tokens` whether special ones among them are plain text.
    """

    special_tokens: SpecialTokens
    vocab_size: int
    packing_style: str
    added_tokens: tuple = ()
    split_special_tokens: bool = False

    @property
    def scheme(self) -> str:
        """The class name of the tokenization scheme (a wrapper reports the tokenizer it wraps)."""
        return type(self).__name__

    def tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """UTF-8 strings [batch] -> int32 token ids [batch, (tokens)], no special tokens added."""
        ids, _, _ = self.tokenize_with_offsets(strings)
        return ids

    def tokenize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Like `tokenize`, plus int64 start and end byte offsets of each token in its input."""
        raise NotImplementedError

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """int32 token ids [batch, (tokens)] -> UTF-8 strings [batch]."""
        raise NotImplementedError
