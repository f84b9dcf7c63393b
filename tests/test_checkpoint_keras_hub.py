"""keras-hub presets (written by keras-hub's `save_to_preset`) exported as SavedModels compute what
the keras-hub backbone computes, within 1e-5 on non-pad tokens; from MaskedLM task presets (BERT,
ALBERT) the `mlm` logits match the task's within 1e-4.

keras-hub numbers RoBERTa positions from the first column whatever the padding (fairseq and
Hugging Face count from the first real token), so its reference is only defined for right-padded
and full rows; the other families are also checked with left padding.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf

from hubexport.checkpoints.weight_assignment import CheckpointWarning
from hubexport.model_source import build_encoder
from hubexport.savedmodel.encoder_export import export_encoder
from hubexport.savedmodel.mlm_export import export_encoder_with_mlm
from tests.fixtures.hf_models import MASKED_POSITIONS, padded_hf_batch

TOLERANCE = 1e-5
MLM_TOLERANCE = 1e-4
SIZES = dict(num_layers=2, num_heads=4, hidden_dim=32, intermediate_dim=37, max_sequence_length=40)
FAMILIES = ["bert", "roberta", "xlm_roberta", "albert", "electra"]


MASKED_LM_TASKS = {"bert": "BertMaskedLM", "albert": "AlbertMaskedLM"}


def keras_hub_models() -> dict:
    """family -> a keras-hub backbone, or (BERT, ALBERT) a MaskedLM task around one."""
    import keras_hub

    models = keras_hub.models
    backbones = {
        "bert": models.BertBackbone(vocabulary_size=99, **SIZES),
        "roberta": models.RobertaBackbone(vocabulary_size=99, **SIZES),
        "xlm_roberta": models.XLMRobertaBackbone(vocabulary_size=99, **SIZES),
        "albert": models.AlbertBackbone(
            vocabulary_size=99, embedding_dim=16, num_groups=2, num_inner_repetitions=2, **{**SIZES, "num_layers": 4}
        ),
        "electra": models.ElectraBackbone(vocab_size=99, embedding_dim=16, **SIZES),
    }
    for family, task in MASKED_LM_TASKS.items():
        backbones[family] = getattr(models, task)(backbone=backbones[family], preprocessor=None)
    return backbones


@pytest.fixture(scope="session")
def keras_hub_exports(tmp_path_factory):
    """family -> (keras-hub model, loaded export of its preset, CheckpointWarning messages)."""
    root = tmp_path_factory.mktemp("keras_hub")
    rng = np.random.default_rng(7)
    exports = {}
    for family, model in keras_hub_models().items():
        for weight in model.weights:  # random everything, LayerNorm scales around 1
            centre = 1.0 if weight.path.endswith("gamma") else 0.0
            weight.assign(centre + 0.2 * rng.standard_normal(weight.shape).astype(np.float32))
        model.save_to_preset(str(root / family))
        with_mlm = family in MASKED_LM_TASKS
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CheckpointWarning)
            source = build_encoder(None, None, checkpoint=str(root / family), with_mlm=with_mlm)
        target = root / f"{family}_export"
        path = (
            export_encoder_with_mlm(source.model, source.mlm_head, target, metadata=source.metadata)
            if with_mlm
            else export_encoder(source.model, target, metadata=source.metadata)
        )
        messages = [str(w.message) for w in caught if issubclass(w.category, CheckpointWarning)]
        exports[family] = (model, tf.saved_model.load(str(path)), messages)
    return exports


def batch_for(family: str) -> dict[str, np.ndarray]:
    roberta = family in ("roberta", "xlm_roberta")
    batch = padded_hf_batch(99, 1 if roberta else 0, 1 if roberta else 2)
    if roberta:  # keep the right-padded and the full row
        batch = {name: value[[0, 2]] for name, value in batch.items()}
    return batch


@pytest.mark.parametrize("family", FAMILIES)
def test_exported_keras_hub_preset_matches_keras_hub(family, keras_hub_exports):
    model, loaded, _ = keras_hub_exports[family]
    backbone = getattr(model, "backbone", model)
    batch = batch_for(family)
    inputs = {"token_ids": batch["input_word_ids"], "padding_mask": batch["input_mask"]}
    if family not in ("roberta", "xlm_roberta"):
        inputs["segment_ids"] = batch["input_type_ids"]
    reference = backbone(inputs)
    reference_sequence = np.asarray(reference["sequence_output"] if isinstance(reference, dict) else reference)
    got = loaded({k: tf.constant(v) for k, v in batch.items()})
    mask = batch["input_mask"].astype(bool)
    sequence = got["sequence_output"].numpy()
    assert np.max(np.abs(sequence - reference_sequence)[mask]) <= TOLERANCE
    assert len(got["encoder_outputs"]) == backbone.num_layers
    if family in ("bert", "albert"):
        assert np.max(np.abs(got["pooled_output"].numpy() - np.asarray(reference["pooled_output"]))) <= TOLERANCE
    else:
        np.testing.assert_array_equal(got["pooled_output"].numpy(), sequence[:, 0])


@pytest.mark.parametrize("family", sorted(MASKED_LM_TASKS))
def test_exported_masked_lm_head_matches_keras_hub_task(family, keras_hub_exports):
    task, loaded, _ = keras_hub_exports[family]
    batch = batch_for(family)
    reference = task(
        {
            "token_ids": batch["input_word_ids"],
            "padding_mask": batch["input_mask"],
            "segment_ids": batch["input_type_ids"],
            "mask_positions": MASKED_POSITIONS,
        }
    )
    got = loaded.mlm(
        {**{k: tf.constant(v) for k, v in batch.items()}, "masked_lm_positions": tf.constant(MASKED_POSITIONS)}
    )["mlm_logits"].numpy()
    assert got.shape == (3, MASKED_POSITIONS.shape[1], 99)
    assert np.max(np.abs(got - np.asarray(reference))) <= MLM_TOLERANCE


def test_untrained_electra_pooler_is_listed_not_exported(keras_hub_exports):
    messages = {family: exported[2] for family, exported in keras_hub_exports.items()}
    assert len(messages["electra"]) == 1 and "'pooled_dense/kernel'" in messages["electra"][0]
    assert all(not messages[family] for family in ("bert", "roberta", "xlm_roberta", "albert"))
