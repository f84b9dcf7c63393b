"""The root object of an end-to-end text embedding SavedModel: strings in, embeddings out.

It holds the encoder root of `build_encoder_root` (reachable as `encoder`, so the encoder's
variables and traces are stored once) and the TF-Hub preprocessor (as `preprocessor`, with its
`tokenize`, `bert_pack_inputs` ... API), and chains them in the graph:

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

from typing import Any

import tensorflow as tf

from hubexport.encoders.backbone import EncoderBackbone
from hubexport.preprocess.preprocessor_module import PreprocessorModule
from hubexport.savedmodel.encoder_export import build_encoder_root
from hubexport.savedmodel.length_buckets import encode_in_length_buckets
from hubexport.savedmodel.reusable import ReusableSavedModelRoot
from hubexport.savedmodel.sentence_embedding_head import SentenceEmbeddingHead

OUTPUT_NAMES = ("pooled_output", "sequence_output", "input_mask", "embedding")
SINGLE_INPUT = "text"
PAIR_INPUTS = ("text_a", "text_b")
SIGNATURE_INPUTS = {"serving_default": (SINGLE_INPUT,), "serving_pair": PAIR_INPUTS}


def embedding_outputs(
    encoder_root: ReusableSavedModelRoot,
    sentence_embedding: SentenceEmbeddingHead,
    inputs: dict[str, tf.Tensor],
    hidden_dim: int,
    training: bool,
) -> dict[str, tf.Tensor]:
    """Runs the encoder root's call on packed inputs; returns the four end-to-end outputs."""
    outputs = encode_in_length_buckets(
        lambda bucket: encoder_root.__call__(bucket, training=training), inputs, hidden_dim
    )
    return {
        "pooled_output": outputs["pooled_output"],
        "sequence_output": outputs["sequence_output"],
        "input_mask": inputs["input_mask"],
        "embedding": sentence_embedding(outputs["sequence_output"], inputs["input_mask"]),
    }


def build_end_to_end_root(
    model: EncoderBackbone, preprocessor: PreprocessorModule, sentence_embedding: SentenceEmbeddingHead | None = None
) -> tuple[ReusableSavedModelRoot, dict[str, Any]]:
    """The SavedModel root chaining `preprocessor`, `model` and `sentence_embedding` (default: the masked
    mean), and its serving signatures. The head's variables join the root's (trainable) variables."""
    encoder_root, _ = build_encoder_root(model)
    sentence_embedding = sentence_embedding or SentenceEmbeddingHead()
    root = ReusableSavedModelRoot(model)
    root.encoder = encoder_root
    root.preprocessor = preprocessor
    root.sentence_embedding = sentence_embedding
    root.variables = [*root.variables, *sentence_embedding.variables]
    root.trainable_variables = [*root.trainable_variables, *sentence_embedding.trainable_variables]
    pack_pair = preprocessor.serving_signatures()["serving_pair"]
    hidden_dim = model.config.hidden_dim
    text = tf.TensorSpec([None], tf.string, name=SINGLE_INPUT)

    @tf.function
    def call(text, training=False):
        return embedding_outputs(encoder_root, sentence_embedding, preprocessor(text), hidden_dim, training)

    for training in (False, True):
        call.get_concrete_function(text, training=training)
    root.__call__ = call
    root.serve = tf.function(lambda text: call(text, training=False), input_signature=[text])
    root.serve_training = tf.function(lambda text: call(text, training=True), input_signature=[text])

    pair = {name: tf.TensorSpec([None], tf.string, name=name) for name in PAIR_INPUTS}

    @tf.function(input_signature=[pair])
    def serve_pair(texts):
        return embedding_outputs(encoder_root, sentence_embedding, pack_pair(**texts), hidden_dim, training=False)

    root.serve_pair = serve_pair
    serving_pair = tf.function(
        lambda text_a, text_b: serve_pair({"text_a": text_a, "text_b": text_b}), input_signature=list(pair.values())
    )
    return root, {
        "serving_default": root.serve.get_concrete_function(),
        "serving_pair": serving_pair.get_concrete_function(),
    }
