"""The classification head of a Hugging Face `*ForSequenceClassification` / `*ForTokenClassification`
directory: which head (from config.json's `architectures`), its labels, problem type and weights.

Each family's head, as transformers builds it:

- BERT, ALBERT sequence heads: the encoder's pooler (dense + tanh), then `classifier` (linear);
- RoBERTa, XLM-R sequence heads: `classifier.dense` + tanh, then `classifier.out_proj`, on the first token;
- ELECTRA sequence heads: `classifier.dense` + erf GELU, then `classifier.out_proj`, on the first token;
- token heads (all five): `classifier` (linear) on every token.

Labels are `id2label[0 .. num_labels - 1]`. `probabilities` are a softmax over the labels, or a sigmoid
per label when `problem_type` is `multi_label_classification` or there is one label (as transformers'
text-classification pipeline does); regression heads are refused.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from hubexport.checkpoints.encoder_layout import Dense, Layout, dense_rules
from hubexport.checkpoints.hf_config import MODEL_CONFIG, read_json
from hubexport.checkpoints.weight_assignment import Rule
from hubexport.errors import ConfigError

CLASSIFIER = "classifier"
SEQUENCE, TOKEN = "sequence", "token"
TASK_SUFFIXES = {"ForSequenceClassification": SEQUENCE, "ForTokenClassification": TOKEN}
SINGLE_LABEL, MULTI_LABEL = "single_label_classification", "multi_label_classification"
# family -> (where the sequence head reads, its hidden dense layer's activation or None)
SEQUENCE_HEADS = {
    "bert": ("pooled_output", None),
    "albert": ("pooled_output", None),
    "roberta": ("first_token", "tanh"),
    "xlm_roberta": ("first_token", "tanh"),
    "electra": ("first_token", "gelu"),
}


@dataclasses.dataclass(frozen=True)
class ClassifierHeadSpec:
    """One checkpoint's head: `task` ("sequence" or "token"), the transformers class, the labels by id,
    `problem_type` (single- or multi-label), where the head reads (see encoders/classifier_heads.py),
    its hidden dense activation (None: linear only) and its dropout rate."""

    task: str
    model_class: str
    labels: tuple[str, ...]
    problem_type: str
    reads: str
    hidden_activation: str | None
    dropout: float

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def probabilities(self) -> str:
        """ "sigmoid" (independent labels) or "softmax"."""
        return "sigmoid" if self.problem_type == MULTI_LABEL or self.num_labels == 1 else "softmax"

    def describe(self) -> dict[str, Any]:
        """What hubexport.json and the model card record about the head."""
        return {
            "task": self.task,
            "model_class": self.model_class,
            "labels": list(self.labels),
            "problem_type": self.problem_type,
            "probabilities": self.probabilities,
            "reads": self.reads,
            "hidden_activation": self.hidden_activation,
        }


def _task(values: dict[str, Any]) -> tuple[str | None, str | None]:
    """(the first `architectures` entry, its task) of config.json's values; (.., None) for other classes."""
    model_class = next(iter(values.get("architectures") or []), None)
    return model_class, next(
        (task for suffix, task in TASK_SUFFIXES.items() if str(model_class).endswith(suffix)), None
    )


def has_classifier_head(model_dir: pathlib.Path | None) -> bool:
    """Whether `model_dir` is a Hugging Face directory of a sequence or token classification model."""
    path = None if model_dir is None else pathlib.Path(model_dir) / "config.json"
    return path is not None and path.is_file() and _task(read_json(path))[1] is not None


def read_classifier_head(model_dir: pathlib.Path, family: str) -> ClassifierHeadSpec | None:
    """The head config.json's first `architectures` entry names, or None for any other model class."""
    path = model_dir / "config.json"
    values = read_json(path)
    model_class, task = _task(values)
    if task is None:
        return None
    problem_type = values.get("problem_type") or SINGLE_LABEL
    if problem_type not in (SINGLE_LABEL, MULTI_LABEL):
        raise ConfigError(
            f"{path}: problem_type={problem_type!r} is not supported; hubexport exports classification heads "
            f"({SINGLE_LABEL}, {MULTI_LABEL})"
        )
    reads, activation = SEQUENCE_HEADS[family] if task == SEQUENCE else ("every_token", None)
    dropout_key = "classifier_dropout_prob" if family == "albert" else "classifier_dropout"
    dropout = values.get(dropout_key)
    return ClassifierHeadSpec(
        task=task,
        model_class=model_class,
        labels=_labels(values, path),
        problem_type=problem_type,
        reads=reads,
        hidden_activation=activation,
        dropout=float(values.get("hidden_dropout_prob", 0.1) if dropout is None else dropout),
    )


def _labels(values: dict[str, Any], path: pathlib.Path) -> tuple[str, ...]:
    """`id2label` as a tuple by id; transformers' LABEL_i names when the file has none."""
    id2label = values.get("id2label")
    if id2label is None:
        count = values.get("num_labels", 2)
        return tuple(f"LABEL_{index}" for index in range(count))
    if not isinstance(id2label, dict) or not id2label:
        raise ConfigError(f"cannot read {MODEL_CONFIG} {path}: id2label must be a non-empty object")
    if sorted(id2label) != sorted(str(index) for index in range(len(id2label))):
        raise ConfigError(
            f"cannot read {MODEL_CONFIG} {path}: id2label keys must be 0 .. {len(id2label) - 1}, "
            f"got {', '.join(sorted(id2label))}"
        )
    labels = tuple(id2label[str(index)] for index in range(len(id2label)))
    if not all(isinstance(label, str) for label in labels):
        raise ConfigError(f"cannot read {MODEL_CONFIG} {path}: id2label values must be strings")
    return labels


def classifier_rules(spec: ClassifierHeadSpec) -> list[Rule]:
    """The head's checkpoint tensors -> our ClassifierHead's weights (under the layer name `classifier`)."""
    if spec.hidden_activation is None:
        return dense_rules(Dense(f"{CLASSIFIER}.weight", f"{CLASSIFIER}.bias"), f"{CLASSIFIER}/out_proj", Layout.TORCH)
    rules = []
    for part in ("dense", "out_proj"):
        rules += dense_rules(
            Dense(f"{CLASSIFIER}.{part}.weight", f"{CLASSIFIER}.{part}.bias"), f"{CLASSIFIER}/{part}", Layout.TORCH
        )
    return rules
