"""`ImportedCheckpoint`: what every format's importer hands to the loader."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from hubexport.checkpoints.hf_classifier_head import ClassifierHeadSpec
from hubexport.checkpoints.pooled_output import PooledOutput
from hubexport.checkpoints.tensors import TensorSource
from hubexport.checkpoints.weight_assignment import WeightPlan
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.mlm_head import MaskedLMHeadSpec


@dataclasses.dataclass
class ImportedCheckpoint:
    """A checkpoint read far enough to build the model: architecture, tensors and how to assign them.

    `config` already carries the pooler policy; `mlm` is None when the checkpoint has no LM head;
    `plan(with_mlm)` is the strict weight plan for the encoder, with or without the LM head.
    `has_own_config` says whether the architecture came from the checkpoint's own files; `classifier` is
    the classification head a Hugging Face `*ForSequenceClassification` / `*ForTokenClassification` holds.
    """

    config: EncoderConfig
    pooled_output: PooledOutput
    tensors: TensorSource
    mlm: MaskedLMHeadSpec | None
    plan: Callable[[bool], WeightPlan]
    description: str
    has_own_config: bool = True
    classifier: ClassifierHeadSpec | None = None
