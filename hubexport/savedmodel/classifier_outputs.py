"""What a classification export returns: logits, probabilities and labels, from a `ClassifierHead`.

`classification_outputs(logits, spec)` gives, for logits float32 [..., num_labels]:

- `logits`: as the head computed them;
- `probabilities` float32 [..., num_labels]: softmax over the labels, or a sigmoid per label for
  multi-label heads (and single-label ones with one label), see checkpoints/hf_classifier_head.py;
- `label_id` int64 [...]: the argmax of the logits (for multi-label heads too: the most likely label);
- `label` string [...]: `id2label[label_id]`.

Given `input_mask` [batch, seq] (token heads), padded positions get `label_id` -1 and `label` "".

The end-to-end heads (`TextHead`s of end_to_end_root.py) built on it:

- `SequenceClassifierOutputs`: one row per text (or text pair, `serving_pair`), the four outputs above
  with leading shape [batch];
- `TokenClassifierOutputs`: one row per token of the packed text ([batch, seq], `[CLS]`/`<s>` first),
  the four outputs plus `input_mask` int32 [batch, seq] (1 for real tokens, special tokens included) and
  `offsets` int64 [batch, seq, 2]: each token's [start, end) byte offsets into the input string (after
  invalid UTF-8 is repaired); special tokens and padding get [0, 0], as Hugging Face's `offset_mapping`
  gives special tokens (0, 0). Texts are cut to the default sequence length as `serving_default` cuts them.
"""

from __future__ import annotations

import tensorflow as tf

from hubexport.checkpoints.hf_classifier_head import ClassifierHeadSpec
from hubexport.encoders.classifier_heads import ClassifierHead
from hubexport.preprocess.preprocessor_module import PreprocessorModule
from hubexport.preprocess.processors.packing import num_special_tokens
from hubexport.savedmodel.end_to_end_root import SIGNATURE_INPUTS, SINGLE_INPUT

CLASSIFICATION_OUTPUTS = ("logits", "probabilities", "label_id", "label")
TOKEN_OUTPUTS = (*CLASSIFICATION_OUTPUTS, "input_mask", "offsets")


def classification_outputs(
    logits: tf.Tensor, spec: ClassifierHeadSpec, input_mask: tf.Tensor | None = None
) -> dict[str, tf.Tensor]:
    """`logits`, `probabilities`, `label_id` and `label` (see the module docstring)."""
    probabilities = tf.sigmoid(logits) if spec.probabilities == "sigmoid" else tf.nn.softmax(logits, axis=-1)
    label_id = tf.argmax(logits, axis=-1, output_type=tf.int64)
    label = tf.gather(tf.constant(spec.labels, tf.string), label_id)
    if input_mask is not None:
        real = tf.cast(input_mask, tf.bool)
        label_id = tf.where(real, label_id, tf.constant(-1, tf.int64))
        label = tf.where(real, label, tf.constant("", tf.string))
    return {"logits": logits, "probabilities": probabilities, "label_id": label_id, "label": label}


class _ClassifierOutputs:
    """The part both end-to-end classifier heads share: the Keras head, its spec and its variables."""

    def __init__(self, head: ClassifierHead, spec: ClassifierHeadSpec):
        self.head, self.spec = head, spec
        self.variables = [variable.value for variable in head.variables]
        self.trainable_variables = [variable.value for variable in head.trainable_variables]

    def logits(self, encoded: dict[str, tf.Tensor], training: bool) -> tf.Tensor:
        return self.head(encoded["pooled_output"], encoded["sequence_output"], training=training)


class SequenceClassifierOutputs(_ClassifierOutputs):
    """One label per text or text pair (`serving_default` and `serving_pair`)."""

    output_names = CLASSIFICATION_OUTPUTS
    signature_inputs = SIGNATURE_INPUTS

    def pack(self, preprocessor: PreprocessorModule, text: tf.Tensor) -> dict[str, tf.Tensor]:
        return preprocessor(text)

    def __call__(
        self, encoded: dict[str, tf.Tensor], inputs: dict[str, tf.Tensor], training: bool
    ) -> dict[str, tf.Tensor]:
        return classification_outputs(self.logits(encoded, training), self.spec)


class TokenClassifierOutputs(_ClassifierOutputs):
    """One label per token, with the tokens' byte offsets (`serving_default` only)."""

    output_names = TOKEN_OUTPUTS
    signature_inputs = {"serving_default": (SINGLE_INPUT,)}

    def pack(self, preprocessor: PreprocessorModule, text: tf.Tensor) -> dict[str, tf.Tensor]:
        """The packed single-segment inputs plus `offsets`, aligned with them (see the module docstring)."""
        ids, starts, ends = preprocessor.tokenize_with_offsets(text)
        seq_length = preprocessor.default_seq_length
        inputs = preprocessor.pack([ids], seq_length)
        budget = seq_length - num_special_tokens(preprocessor.tokenizer.packing_style, 1)
        rows = tf.shape(inputs["input_mask"])[0]

        def packed(offsets: tf.RaggedTensor) -> tf.Tensor:
            kept = offsets[:, :budget].to_tensor(0, shape=tf.stack([tf.cast(rows, tf.int64), seq_length - 1]))
            return tf.pad(kept, [[0, 0], [1, 0]])  # the start token's [0, 0]

        return {**inputs, "offsets": tf.stack([packed(starts), packed(ends)], axis=-1)}

    def __call__(
        self, encoded: dict[str, tf.Tensor], inputs: dict[str, tf.Tensor], training: bool
    ) -> dict[str, tf.Tensor]:
        mask = inputs["input_mask"]
        outputs = classification_outputs(self.logits(encoded, training), self.spec, mask)
        return {**outputs, "input_mask": mask, "offsets": inputs["offsets"]}


def classifier_outputs(head: ClassifierHead, spec: ClassifierHeadSpec) -> _ClassifierOutputs:
    """The end-to-end head for `spec.task`."""
    return (TokenClassifierOutputs if spec.task == "token" else SequenceClassifierOutputs)(head, spec)
