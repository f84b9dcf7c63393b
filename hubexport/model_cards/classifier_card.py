"""The parts of a text classifier's model card (`text_classifier` kind) that differ from the embedding card:
its outputs (labels, problem type) and runnable examples; and the encoder card's line for `classify`.

`metadata["classifier"]` is `ClassifierHeadSpec.describe()`: task ("sequence" or "token"), model_class,
labels, problem_type, probabilities ("softmax" or "sigmoid").
"""

from __future__ import annotations

import json
from typing import Any

from hubexport.model_cards.examples import TEXT_OPS_IMPORT, keras_layer_title


def classifier_output_details(metadata: dict[str, Any]) -> str:
    """The "Output details" section: the labels and what each output holds."""
    head = metadata["classifier"]
    labels = ", ".join(f"{index}: `{label}`" for index, label in enumerate(head["labels"]))
    count = len(head["labels"])
    seq = metadata["preprocessing"]["default_seq_length"]
    probabilities = (
        "a sigmoid per label (independent labels)" if head["probabilities"] == "sigmoid" else "softmax over the labels"
    )
    lines = [
        "## Output details",
        "",
        f"The source's `{head['model_class']}` head ({head['problem_type']}); labels by id: {labels}.",
        "",
    ]
    if head["task"] == "token":
        lines += [
            f"One row per token of the packed text (`[batch size, {seq}]`, the start token first; texts longer "
            f"than {seq} tokens are cut):",
            "",
            f'* `"logits"`: float32 `[batch size, {seq}, {count}]`.',
            f'* `"probabilities"`: float32 `[batch size, {seq}, {count}]`, {probabilities}.',
            f'* `"label_id"`: int64 `[batch size, {seq}]`, the argmax of the logits; -1 at padding.',
            f'* `"label"`: string `[batch size, {seq}]`, the label of `label_id`; empty at padding.',
            f'* `"input_mask"`: int32 `[batch size, {seq}]`, 1 for tokens (special tokens included), 0 for padding.',
            f'* `"offsets"`: int64 `[batch size, {seq}, 2]`, each token\'s [start, end) byte offsets into its input '
            "string (UTF-8); special tokens and padding have [0, 0].",
        ]
    else:
        lines += [
            "One row per text (or per pair with `serving_pair`):",
            "",
            f'* `"logits"`: float32 `[batch size, {count}]`.',
            f'* `"probabilities"`: float32 `[batch size, {count}]`, {probabilities}.',
            '* `"label_id"`: int64 `[batch size]`, the argmax of the logits.',
            '* `"label"`: string `[batch size]`, the label of `label_id`.',
        ]
    return "\n".join(lines)


def classify_line(head: dict[str, Any]) -> str:
    """The encoder card's bullet for the `classify` function and signature of an encoder_with_classifier export."""
    labels = ", ".join(f"{index}: `{label}`" for index, label in enumerate(head["labels"]))
    shape = "[batch size, sequence length" if head["task"] == "token" else "[batch size"
    return (
        f'* `"classify"` (a function of the three inputs, fine-tunable with `hub.KerasLayer(loaded.classify, '
        f"trainable=True)`, and a signature): the source's `{head['model_class']}` head ({head['problem_type']}), "
        f"`logits` and `probabilities` ({head['probabilities']}) `{shape}, {len(head['labels'])}]`, `label_id` and "
        f"`label` `{shape}]`; labels by id: {labels}."
    )


def classifier_examples(path: str, metadata: dict[str, Any]) -> dict[str, str]:
    """Title -> program, for the text classifier at `path`."""
    handle = json.dumps(path)
    trainable = metadata.get("fine_tunable", True)
    examples = {
        "Plain TensorFlow (tf.saved_model.load)": f"""\
import tensorflow as tf
{TEXT_OPS_IMPORT}

model = tf.saved_model.load({handle})
outputs = model.signatures["serving_default"](text=tf.constant(["(your text here)", "Another sentence."]))
print(outputs["label"], outputs["probabilities"])
""",
        keras_layer_title("Classification", trainable): f"""\
import tensorflow as tf
import tensorflow_hub as hub
{TEXT_OPS_IMPORT}
import tf_keras

text_input = tf_keras.layers.Input(shape=(), dtype=tf.string)
classifier = hub.KerasLayer({handle}, trainable={trainable})
model = tf_keras.Model(text_input, classifier(text_input)["logits"])
print(model(tf.constant(["(your text here)"])))
""",
    }
    if metadata["classifier"]["task"] == "sequence":
        examples["Text pairs (serving_pair)"] = f"""\
import tensorflow as tf
{TEXT_OPS_IMPORT}

model = tf.saved_model.load({handle})
pairs = model.signatures["serving_pair"](text_a=tf.constant(["(premise)"]), text_b=tf.constant(["(hypothesis)"]))
print(pairs["label"], pairs["probabilities"])
"""
    else:
        examples["Entities with their byte offsets"] = f"""\
import tensorflow as tf
{TEXT_OPS_IMPORT}

model = tf.saved_model.load({handle})
text = "(your text here)"
outputs = model(tf.constant([text]))
data = text.encode("utf-8")
for label, (start, end), real in zip(outputs["label"][0].numpy(), outputs["offsets"][0].numpy(),
                                     outputs["input_mask"][0].numpy()):
    if real and end > start:
        print(data[start:end].decode("utf-8"), label.decode("utf-8"))
"""
    return examples
