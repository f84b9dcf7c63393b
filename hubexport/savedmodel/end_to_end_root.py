"""The root object of an end-to-end SavedModel: strings in, a head's outputs out.

It holds the encoder root of `build_encoder_root` (reachable as `encoder`, so the encoder's
variables and traces are stored once) and the TF-Hub preprocessor (as `preprocessor`, with its
`tokenize`, `bert_pack_inputs` ... API), and chains them with a `TextHead` in the graph. The head
is the text embedding (`EmbeddingOutputs`, described here) or a classifier (classifier_outputs.py):

- `__call__(text, training=False)` -> `pooled_output` [batch, H], `sequence_output`
  [batch, seq, H], `input_mask` [batch, seq] and `embedding` [batch, D]: by default the mean of
  `sequence_output` over `input_mask` (special tokens included, as sentence-transformers pools;
  D = H), else what the `sentence_embedding` head (sentence_embedding_head.py) computes, e.g. a
  sentence-transformers directory's Pooling -> Dense -> Normalize chain.
  The encoder runs on buckets of rows of similar length (length_buckets.py), so short texts cost
  what their tokens cost; `sequence_output` is zero at padded positions;
- `serve(text)` and `serve_training(text)`: that call with `training` fixed, the endpoints Keras 3's
  `TFSMLayer` calls; `serve_pair({"text_a": ..., "text_b": ...})` for text pairs, packed as one
  two-segment input per example;
- signatures `serving_default` (`text`) and `serving_pair` (`text_a`, `text_b`) with the same
  four outputs, for TF Serving.

The root also carries `variables`, `trainable_variables` and `regularization_losses`, so
`hub.KerasLayer(path, trainable=True)` fine-tunes it on raw strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import tensorflow as tf

from hubexport.encoders.backbone import EncoderBackbone
from hubexport.preprocess.preprocessor_module import PreprocessorModule
from hubexport.savedmodel.encoder_export import build_encoder_root
from hubexport.savedmodel.length_buckets import encode_in_length_buckets
from hubexport.savedmodel.reusable import ReusableSavedModelRoot
from hubexport.savedmodel.sentence_embedding_head import SentenceEmbeddingHead
from hubexport.savedmodel.signatures import ENCODER_INPUT_NAMES

OUTPUT_NAMES = ("pooled_output", "sequence_output", "input_mask", "embedding")
SINGLE_INPUT = "text"
PAIR_INPUTS = ("text_a", "text_b")
SIGNATURE_INPUTS = {"serving_default": (SINGLE_INPUT,), "serving_pair": PAIR_INPUTS}


class TextHead(Protocol):
    """What an end-to-end root computes from packed text: `pack` turns a [batch] string tensor into the
    three encoder inputs (and whatever else `__call__` needs, e.g. token offsets); `__call__` maps the
    encoder's bucketed `sequence_output` / `pooled_output` and those inputs to `output_names`.
    `signature_inputs` are the serving signatures (`serving_default`, optionally `serving_pair`) and their
    string inputs; `variables` / `trainable_variables` (tf.Variables) join the root's."""

    output_names: tuple[str, ...]
    signature_inputs: dict[str, tuple[str, ...]]
    variables: Sequence[tf.Variable]
    trainable_variables: Sequence[tf.Variable]

    def pack(self, preprocessor: PreprocessorModule, text: tf.Tensor) -> dict[str, tf.Tensor]: ...

    def __call__(
        self, encoded: dict[str, tf.Tensor], inputs: dict[str, tf.Tensor], training: bool
    ) -> dict[str, tf.Tensor]: ...


class EmbeddingOutputs(tf.Module):
    """The text embedding model's head: `embedding` from `sentence_embedding` (default: the masked mean),
    plus `pooled_output`, `sequence_output` and `input_mask`."""

    output_names = OUTPUT_NAMES
    signature_inputs = SIGNATURE_INPUTS

    def __init__(self, sentence_embedding: SentenceEmbeddingHead | None = None):
        super().__init__(name="embedding_outputs")
        self.sentence_embedding = sentence_embedding or SentenceEmbeddingHead()

    def pack(self, preprocessor: PreprocessorModule, text: tf.Tensor) -> dict[str, tf.Tensor]:
        return preprocessor(text)

    def __call__(
        self, encoded: dict[str, tf.Tensor], inputs: dict[str, tf.Tensor], training: bool
    ) -> dict[str, tf.Tensor]:
        return {
            "pooled_output": encoded["pooled_output"],
            "sequence_output": encoded["sequence_output"],
            "input_mask": inputs["input_mask"],
            "embedding": self.sentence_embedding(encoded["sequence_output"], inputs["input_mask"]),
        }


def head_outputs(
    encoder_root: ReusableSavedModelRoot,
    head: TextHead,
    inputs: dict[str, tf.Tensor],
    hidden_dim: int,
    training: bool,
) -> dict[str, tf.Tensor]:
    """Runs the encoder root's call on the packed encoder inputs in length buckets, then `head`."""
    encoded = encode_in_length_buckets(
        lambda bucket: encoder_root.__call__(bucket, training=training),
        {name: inputs[name] for name in ENCODER_INPUT_NAMES},
        hidden_dim,
    )
    return head(encoded, inputs, training)


def build_end_to_end_root(
    model: EncoderBackbone, preprocessor: PreprocessorModule, head: TextHead | None = None
) -> tuple[ReusableSavedModelRoot, dict[str, Any]]:
    """The SavedModel root chaining `preprocessor`, `model` and `head` (default: `EmbeddingOutputs()`), and
    its serving signatures (`head.signature_inputs`). The head's variables join the root's (trainable)
    variables."""
    encoder_root, _ = build_encoder_root(model)
    head = head or EmbeddingOutputs()
    root = ReusableSavedModelRoot(model)
    root.encoder = encoder_root
    root.preprocessor = preprocessor
    root.variables = [*root.variables, *head.variables]
    root.trainable_variables = [*root.trainable_variables, *head.trainable_variables]
    hidden_dim = model.config.hidden_dim
    text = tf.TensorSpec([None], tf.string, name=SINGLE_INPUT)

    @tf.function
    def call(text, training=False):
        return head_outputs(encoder_root, head, head.pack(preprocessor, text), hidden_dim, training)

    for training in (False, True):
        call.get_concrete_function(text, training=training)
    root.__call__ = call
    root.serve = tf.function(lambda text: call(text, training=False), input_signature=[text])
    root.serve_training = tf.function(lambda text: call(text, training=True), input_signature=[text])
    signatures = {"serving_default": root.serve.get_concrete_function()}
    if "serving_pair" not in head.signature_inputs:
        return root, signatures

    pack_pair = preprocessor.serving_signatures()["serving_pair"]
    pair = {name: tf.TensorSpec([None], tf.string, name=name) for name in PAIR_INPUTS}

    @tf.function(input_signature=[pair])
    def serve_pair(texts):
        return head_outputs(encoder_root, head, pack_pair(**texts), hidden_dim, training=False)

    root.serve_pair = serve_pair
    serving_pair = tf.function(
        lambda text_a, text_b: serve_pair({"text_a": text_a, "text_b": text_b}), input_signature=list(pair.values())
    )
    return root, {**signatures, "serving_pair": serving_pair.get_concrete_function()}
