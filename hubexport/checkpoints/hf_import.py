"""A Hugging Face model directory (config.json + weights) -> `ImportedCheckpoint`."""

from __future__ import annotations

import pathlib

from hubexport.checkpoints import pooled_output
from hubexport.checkpoints.hf_classifier_head import read_classifier_head
from hubexport.checkpoints.hf_config import read_hf_config
from hubexport.checkpoints.hf_mapping import base_prefix, has_masked_lm_head, has_pooler, hf_plan
from hubexport.checkpoints.hf_weights import open_hf_weights
from hubexport.checkpoints.imported import ImportedCheckpoint

CONFIG_FILE = "config.json"


def import_hf(model_dir: pathlib.Path) -> ImportedCheckpoint:
    """Reads the architecture from config.json and indexes the weights (read later, on assignment)."""
    architecture = read_hf_config(model_dir / CONFIG_FILE)
    family = architecture.family
    tensors = open_hf_weights(model_dir)
    names = tensors.names()
    model_class = architecture.architectures[0] if architecture.architectures else f"{family} model"
    description = f"Hugging Face {model_class} at {model_dir}"
    pooled = pooled_output.decide(family, has_pooler(family, base_prefix(family, names), names), description)
    config = pooled_output.with_pooler(architecture.config, pooled)
    return ImportedCheckpoint(
        config=config,
        pooled_output=pooled,
        tensors=tensors,
        mlm=architecture.mlm if has_masked_lm_head(family, names) else None,
        plan=lambda with_mlm: hf_plan(family, config, names, with_mlm, architecture.mlm.tied),
        description=description,
        classifier=read_classifier_head(model_dir, family),
    )
