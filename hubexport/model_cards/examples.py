"""The runnable code examples of a model card, per export kind, with the export's path filled in.

Each example is a complete Python program (imports included) that runs as written against the
export: TF Hub's `hub.KerasLayer` needs `tf_keras` (Keras 2) under TensorFlow 2.16+, and Keras 3
loads SavedModels with `keras.layers.TFSMLayer`. The model card tests execute every one of them.
"""

from __future__ import annotations

import json
from typing import Any

TEXT_OPS_IMPORT = "import tensorflow_text  # noqa: F401 (registers the tf.text ops of the in-graph tokenizer)"
ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def keras_layer_title(task: str, trainable: bool) -> str:
    """An example's title: `task` with hub.KerasLayer, and whether the export fine-tunes (int8 ones do not)."""
    return f"{task} with hub.KerasLayer (tf_keras{', fine-tunable' if trainable else ''})"


def end_to_end_examples(path: str, hidden: int, seq_length: int, trainable: bool) -> dict[str, str]:
    """Title -> program, for the end-to-end text embedding model at `path`."""
    handle = json.dumps(path)
    return {
        keras_layer_title("Sentence embeddings", trainable): f"""\
import tensorflow as tf
import tensorflow_hub as hub
{TEXT_OPS_IMPORT}
import tf_keras

text_input = tf_keras.layers.Input(shape=(), dtype=tf.string)
embedder = hub.KerasLayer({handle}, trainable={trainable})
outputs = embedder(text_input)
embedding = outputs["embedding"]              # [batch_size, {hidden}]: mean of sequence_output over input_mask.
pooled_output = outputs["pooled_output"]      # [batch_size, {hidden}].
sequence_output = outputs["sequence_output"]  # [batch_size, {seq_length}, {hidden}].
model = tf_keras.Model(text_input, embedding)

sentences = tf.constant(["(your text here)", "Another sentence."])
print(model(sentences))
""",
        "Text pairs (multi-segment input) with the bundled preprocessor and encoder": f"""\
import tensorflow as tf
import tensorflow_hub as hub
{TEXT_OPS_IMPORT}
import tf_keras

end_to_end = hub.load({handle})
tokenize = hub.KerasLayer(end_to_end.preprocessor.tokenize)
bert_pack_inputs = hub.KerasLayer(end_to_end.preprocessor.bert_pack_inputs, arguments=dict(seq_length={seq_length}))
encoder = hub.KerasLayer(end_to_end.encoder, trainable={trainable})

text_inputs = [
    tf_keras.layers.Input(shape=(), dtype=tf.string),
    tf_keras.layers.Input(shape=(), dtype=tf.string),
]
tokenized_inputs = [tokenize(segment) for segment in text_inputs]
encoder_inputs = bert_pack_inputs(tokenized_inputs)
encoder_outputs = encoder(encoder_inputs)
pooled_output = encoder_outputs["pooled_output"]      # [batch_size, {hidden}].
sequence_output = encoder_outputs["sequence_output"]  # [batch_size, {seq_length}, {hidden}].
model = tf_keras.Model(text_inputs, pooled_output)

premises = tf.constant(["(your premise text here)"])
hypotheses = tf.constant(["(your hypothesis text here)"])
print(model([premises, hypotheses]))

# The same pairs through the serving signature, which also returns the mean-pooled embedding:
print(end_to_end.signatures["serving_pair"](text_a=premises, text_b=hypotheses)["embedding"])
""",
        "Keras 3 (keras.layers.TFSMLayer)": f"""\
import keras
import tensorflow as tf
{TEXT_OPS_IMPORT}

embedder = keras.layers.TFSMLayer({handle}, call_endpoint="serve", call_training_endpoint="serve_training")
text_input = keras.Input(shape=(), dtype="string")
model = keras.Model(text_input, embedder(text_input)["embedding"])
print(model(tf.constant(["(your text here)", "Another sentence."])))  # shape (2, {hidden})

pairs = keras.layers.TFSMLayer({handle}, call_endpoint="serve_pair")
print(pairs({{"text_a": tf.constant(["(premise)"]), "text_b": tf.constant(["(hypothesis)"])}})["embedding"])
""",
        "Plain TensorFlow (tf.saved_model.load)": f"""\
import tensorflow as tf
{TEXT_OPS_IMPORT}

model = tf.saved_model.load({handle})
texts = tf.constant(["(your text here)", "Another sentence."])
print(model(texts)["embedding"])  # shape (2, {hidden})
print(model.signatures["serving_default"](text=texts)["embedding"])
""",
    }


def encoder_examples(
    path: str, hidden: int, num_layers: int, preprocessor_path: str | None, trainable: bool
) -> dict[str, str]:
    """Title -> program, for the encoder at `path`; text in too when its preprocessor's path is known."""
    handle = json.dumps(path)
    examples = {
        keras_layer_title("Encoder outputs", trainable): f"""\
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

encoder_inputs = {{name: tf_keras.layers.Input(shape=(None,), dtype=tf.int32, name=name)
                  for name in {ENCODER_INPUTS!r}}}
encoder = hub.KerasLayer({handle}, trainable={trainable})
encoder_outputs = encoder(encoder_inputs)
pooled_output = encoder_outputs["pooled_output"]      # [batch_size, {hidden}].
sequence_output = encoder_outputs["sequence_output"]  # [batch_size, seq_length, {hidden}].
assert len(encoder_outputs["encoder_outputs"]) == {num_layers}  # one [batch_size, seq_length, {hidden}] per layer.
model = tf_keras.Model(encoder_inputs, pooled_output)

# One example of 4 tokens padded to 6; real ids come from the matching preprocessor.
print(model({{"input_word_ids": tf.constant([[1, 2, 3, 4, 0, 0]]),
             "input_mask": tf.constant([[1, 1, 1, 1, 0, 0]]),
             "input_type_ids": tf.constant([[0, 0, 0, 0, 0, 0]])}}))
""",
    }
    if preprocessor_path is not None:
        examples["Text input with the matching preprocessor (as on TF Hub)"] = f"""\
import tensorflow as tf
import tensorflow_hub as hub
{TEXT_OPS_IMPORT}
import tf_keras

text_input = tf_keras.layers.Input(shape=(), dtype=tf.string)
preprocessor = hub.KerasLayer({json.dumps(preprocessor_path)})
encoder_inputs = preprocessor(text_input)
encoder = hub.KerasLayer({handle}, trainable={trainable})
pooled_output = encoder(encoder_inputs)["pooled_output"]  # [batch_size, {hidden}].
model = tf_keras.Model(text_input, pooled_output)
print(model(tf.constant(["(your text here)"])))
"""
    examples["Keras 3 (keras.layers.TFSMLayer)"] = f"""\
import keras
import tensorflow as tf

encoder = keras.layers.TFSMLayer({handle}, call_endpoint="serve", call_training_endpoint="serve_training")
outputs = encoder({{"input_word_ids": tf.constant([[1, 2, 3, 0]]),
                   "input_mask": tf.constant([[1, 1, 1, 0]]),
                   "input_type_ids": tf.constant([[0, 0, 0, 0]])}})
print(outputs["pooled_output"].shape, outputs["sequence_output"].shape)  # (1, {hidden}) (1, 4, {hidden})
"""
    return examples


def preprocessor_examples(path: str, seq_length: int, encoder_path: str | None) -> dict[str, str]:
    """Title -> program, for the preprocessor at `path`; chained with its encoder when its path is known."""
    handle = json.dumps(path)
    examples = {
        "Single texts with hub.KerasLayer (tf_keras)": f"""\
import tensorflow as tf
import tensorflow_hub as hub
{TEXT_OPS_IMPORT}
import tf_keras

text_input = tf_keras.layers.Input(shape=(), dtype=tf.string)
preprocessor = hub.KerasLayer({handle})
encoder_inputs = preprocessor(text_input)  # input_word_ids, input_mask, input_type_ids: [batch_size, {seq_length}].
model = tf_keras.Model(text_input, encoder_inputs)
print(model(tf.constant(["(your text here)"])))
""",
        "Multi-segment input: tokenize, then bert_pack_inputs with any seq_length": f"""\
import tensorflow as tf
import tensorflow_hub as hub
{TEXT_OPS_IMPORT}
import tf_keras

preprocessor = hub.load({handle})
tokenize = hub.KerasLayer(preprocessor.tokenize)
bert_pack_inputs = hub.KerasLayer(preprocessor.bert_pack_inputs, arguments=dict(seq_length={seq_length}))

text_inputs = [
    tf_keras.layers.Input(shape=(), dtype=tf.string),
    tf_keras.layers.Input(shape=(), dtype=tf.string),
]
tokenized_inputs = [tokenize(segment) for segment in text_inputs]
encoder_inputs = bert_pack_inputs(tokenized_inputs)
model = tf_keras.Model(text_inputs, encoder_inputs)
print(model([tf.constant(["(first segment)"]), tf.constant(["(second segment)"])]))
""",
    }
    if encoder_path is not None:
        examples["Text to encoder outputs with the matching encoder (as on TF Hub)"] = f"""\
import tensorflow as tf
import tensorflow_hub as hub
{TEXT_OPS_IMPORT}
import tf_keras

text_input = tf_keras.layers.Input(shape=(), dtype=tf.string)
preprocessor = hub.KerasLayer({handle})
encoder = hub.KerasLayer({json.dumps(encoder_path)}, trainable=True)
pooled_output = encoder(preprocessor(text_input))["pooled_output"]
model = tf_keras.Model(text_input, pooled_output)
print(model(tf.constant(["(your text here)"])))
"""
    examples["Keras 3 (keras.layers.TFSMLayer)"] = f"""\
import keras
import tensorflow as tf
{TEXT_OPS_IMPORT}

preprocessor = keras.layers.TFSMLayer({handle}, call_endpoint="serving_default")
print(preprocessor(tf.constant(["(your text here)"]))["input_word_ids"])  # int32 [1, {seq_length}]
"""
    return examples


def examples_for(kind: str, path: str, metadata: dict[str, Any]) -> dict[str, str]:
    """The examples of a `kind` card ("encoder", "preprocessor" or "end_to_end")."""
    encoder = metadata.get("encoder_config") or {}
    preprocessing = metadata.get("preprocessing") or {}
    trainable = metadata.get("fine_tunable", True)
    if kind == "end_to_end":
        return end_to_end_examples(path, encoder["hidden_dim"], preprocessing["default_seq_length"], trainable)
    if kind == "encoder":
        return encoder_examples(
            path, encoder["hidden_dim"], encoder["num_layers"], metadata.get("preprocessor_path"), trainable
        )
    return preprocessor_examples(path, preprocessing["default_seq_length"], metadata.get("encoder_path"))
