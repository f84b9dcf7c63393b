"""--checkpoint -> an encoder (and LM head or classifier head) holding the checkpoint's weights.

Resolves hf:// and kaggle:// handles, detects or takes the format, reads the architecture and
tensors with the format's importer, builds our model and fills it through the strict assignment.
"""

from __future__ import annotations

import dataclasses
import os

from hubexport.checkpoints import detect
from hubexport.checkpoints.encoder_layout import MLM_HEAD, model_weights
from hubexport.checkpoints.google_tf_import import import_google_tf
from hubexport.checkpoints.handles import resolve_checkpoint
from hubexport.checkpoints.hf_classifier_head import CLASSIFIER, ClassifierHeadSpec, classifier_rules
from hubexport.checkpoints.hf_import import import_hf
from hubexport.checkpoints.imported import ImportedCheckpoint
from hubexport.checkpoints.keras_hub_import import import_keras_hub
from hubexport.checkpoints.weight_assignment import assign_weights
from hubexport.encoders.backbone import EncoderBackbone
from hubexport.encoders.classifier_heads import ClassifierHead
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.initializers import unwritten_weights
from hubexport.encoders.mlm_head import MaskedLMHead
from hubexport.errors import CheckpointError, ConfigError

AUTO = "auto"


@dataclasses.dataclass
class LoadedEncoder:
    """The filled encoder, its LM head or classifier head (if asked for) and what it was imported from."""

    model: EncoderBackbone
    mlm_head: MaskedLMHead | None
    imported: ImportedCheckpoint
    classifier: ClassifierHead | None = None


def read_checkpoint(
    checkpoint: str | os.PathLike,
    checkpoint_format: str | None,
    given: EncoderConfig | None,
    with_mlm: bool,
    with_classifier: bool = False,
) -> ImportedCheckpoint:
    """Architecture, tensors and weight plan of `checkpoint` (a path or an hf:// / kaggle:// handle);
    `with_classifier` requires a Hugging Face classification head."""
    path = resolve_checkpoint(checkpoint)
    fmt = detect.detect_format(path) if checkpoint_format in (None, AUTO) else checkpoint_format
    if fmt == detect.HUGGINGFACE:
        imported = import_hf(path)
    elif fmt == detect.KERAS_HUB:
        imported = import_keras_hub(path)
    elif fmt == detect.TF_CHECKPOINT:
        imported = import_google_tf(path, given, prefer_generator=with_mlm)
    else:
        raise ConfigError(f"unknown checkpoint format {fmt!r}; known: {', '.join(detect.FORMATS)}")
    if with_mlm and imported.mlm is None:
        raise CheckpointError(
            f"{imported.description} has no masked-LM head; exporting the MLM head needs a "
            "checkpoint saved with one (e.g. BertForMaskedLM, BertForPreTraining, "
            "ElectraForMaskedLM, or a Google pre-training checkpoint)"
        )
    if with_classifier:
        _check_classifier(imported)
    return imported


def _check_classifier(imported: ImportedCheckpoint) -> None:
    """Refuses a checkpoint without a classification head, or one whose pooler the head needs is missing."""
    if imported.classifier is None:
        raise CheckpointError(
            f"{imported.description} has no classification head: expected a Hugging Face "
            "*ForSequenceClassification or *ForTokenClassification directory"
        )
    if imported.classifier.reads == "pooled_output" and imported.config.pooler != "dense_tanh":
        raise CheckpointError(
            f"{imported.description} has no pooler weights, which its {imported.classifier.model_class} head reads"
        )


def build_loaded(
    imported: ImportedCheckpoint, dtype: str, with_mlm: bool, with_classifier: bool = False
) -> LoadedEncoder:
    """Builds our model for the imported architecture and fills every weight from the checkpoint, with the
    checkpoint's classification head when `with_classifier` (see `read_checkpoint`).

    The model is built with unwritten weights: `assign_weights` fills every one of them or raises.
    """
    with unwritten_weights():
        model = EncoderBackbone.from_config({"encoder_config": imported.config.to_dict(), "dtype": dtype})
        head = None
        if with_mlm:
            head = MaskedLMHead(
                imported.config, imported.mlm, model.token_embedding, dtype=model.dtype_policy, name=MLM_HEAD
            )
        classifier = _classifier_head(imported.classifier, imported.config, model) if with_classifier else None
    plan = imported.plan(with_mlm)
    if with_classifier:
        plan.rules += classifier_rules(imported.classifier)
    assign_weights(model_weights(model, head, classifier), imported.tensors, plan)
    return LoadedEncoder(model, head, imported, classifier)


def _classifier_head(spec: ClassifierHeadSpec, config: EncoderConfig, model: EncoderBackbone) -> ClassifierHead:
    return ClassifierHead(
        hidden_dim=config.hidden_dim,
        num_labels=spec.num_labels,
        reads=spec.reads,
        hidden_activation=spec.hidden_activation,
        dropout=spec.dropout,
        initializer_range=config.initializer_range,
        dtype=model.dtype_policy,
        name=CLASSIFIER,
    )
