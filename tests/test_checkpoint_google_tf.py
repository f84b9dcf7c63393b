"""Google's original TF checkpoint layouts (BERT, ALBERT, ELECTRA), read by transformers' own
`load_tf_weights_in_bert` / `_albert` / `_electra` and by hubexport, give the same outputs.

The checkpoints are written here with `tf.compat.v1.train.Saver` under the original variable
names (with optimizer slots and `global_step`, as released checkpoints have), filled at random.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import tensorflow as tf

from hubexport.checkpoints.weight_assignment import CheckpointWarning
from hubexport.model_source import build_encoder
from hubexport.savedmodel.encoder_export import export_encoder
from hubexport.savedmodel.mlm_export import export_encoder_with_mlm
from tests.fixtures.hf_models import MASKED_POSITIONS, hf_reference, padded_hf_batch

TOLERANCE = 1e-5
MLM_TOLERANCE = 1e-4
V, P, E, H, FF = 99, 40, 16, 32, 37
BERT_CONFIG = dict(
    vocab_size=V,
    hidden_size=H,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=FF,
    hidden_act="gelu",
    max_position_embeddings=P,
    type_vocab_size=2,
    initializer_range=0.02,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
)
ALBERT_CONFIG = {
    **BERT_CONFIG,
    "num_hidden_layers": 4,
    "embedding_size": E,
    "num_hidden_groups": 2,
    "inner_group_num": 2,
    "hidden_act": "gelu_new",
    "hidden_dropout_prob": 0.0,
}
DISCRIMINATOR = dict(
    vocab_size=V,
    embedding_size=E,
    hidden_size=H,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=FF,
    max_position_embeddings=P,
    hidden_act="gelu",
)
GENERATOR = {**DISCRIMINATOR, "hidden_size": 24, "intermediate_size": 29}


def dense(scope: str, inputs: int, outputs: int) -> dict[str, tuple]:
    return {f"{scope}/kernel": (inputs, outputs), f"{scope}/bias": (outputs,)}


def norm(scope: str, width: int) -> dict[str, tuple]:
    return {f"{scope}/gamma": (width,), f"{scope}/beta": (width,)}


def embeddings(scope: str, width: int) -> dict[str, tuple]:
    return {
        f"{scope}/word_embeddings": (V, width),
        f"{scope}/position_embeddings": (P, width),
        f"{scope}/token_type_embeddings": (2, width),
        **norm(f"{scope}/LayerNorm", width),
    }


def bert_layer(scope: str, hidden: int, intermediate: int) -> dict[str, tuple]:
    return {
        **dense(f"{scope}/attention/self/query", hidden, hidden),
        **dense(f"{scope}/attention/self/key", hidden, hidden),
        **dense(f"{scope}/attention/self/value", hidden, hidden),
        **dense(f"{scope}/attention/output/dense", hidden, hidden),
        **norm(f"{scope}/attention/output/LayerNorm", hidden),
        **dense(f"{scope}/intermediate/dense", hidden, intermediate),
        **dense(f"{scope}/output/dense", intermediate, hidden),
        **norm(f"{scope}/output/LayerNorm", hidden),
    }


def albert_layer(scope: str) -> dict[str, tuple]:
    return {
        **dense(f"{scope}/attention_1/self/query", H, H),
        **dense(f"{scope}/attention_1/self/key", H, H),
        **dense(f"{scope}/attention_1/self/value", H, H),
        **dense(f"{scope}/attention_1/output/dense", H, H),
        **norm(f"{scope}/LayerNorm", H),
        **dense(f"{scope}/ffn_1/intermediate/dense", H, FF),
        **dense(f"{scope}/ffn_1/intermediate/output/dense", FF, H),
        **norm(f"{scope}/LayerNorm_1", H),
    }


def pretraining_heads(transform_width: int) -> dict[str, tuple]:
    return {
        **dense("bert/pooler/dense", H, H),
        **dense("cls/predictions/transform/dense", H, transform_width),
        **norm("cls/predictions/transform/LayerNorm", transform_width),
        "cls/predictions/output_bias": (V,),
        "cls/seq_relationship/output_weights": (2, H),
        "cls/seq_relationship/output_bias": (2,),
    }


def bert_variables() -> dict[str, tuple]:
    layers = [bert_layer(f"bert/encoder/layer_{i}", H, FF) for i in range(2)]
    return {**embeddings("bert/embeddings", H), **layers[0], **layers[1], **pretraining_heads(H)}


def albert_variables() -> dict[str, tuple]:
    groups = [albert_layer(f"bert/encoder/transformer/group_{g}/inner_group_{r}") for g in range(2) for r in range(2)]
    return {
        **embeddings("bert/embeddings", E),
        **dense("bert/encoder/embedding_hidden_mapping_in", E, H),
        **{k: v for group in groups for k, v in group.items()},
        **pretraining_heads(E),
    }


def electra_variables() -> dict[str, tuple]:
    g, gi = GENERATOR["hidden_size"], GENERATOR["intermediate_size"]
    towers = [bert_layer(f"electra/encoder/layer_{i}", H, FF) for i in range(2)]
    towers += [bert_layer(f"generator/encoder/layer_{i}", g, gi) for i in range(2)]
    return {
        **embeddings("electra/embeddings", E),
        **dense("electra/embeddings_project", E, H),
        **dense("generator/embeddings_project", E, g),
        **{k: v for tower in towers for k, v in tower.items()},
        **dense("discriminator_predictions/dense", H, H),
        **dense("discriminator_predictions/dense_1", H, 1),
        **dense("generator_predictions/dense", g, E),
        **norm("generator_predictions/LayerNorm", E),
        "generator_predictions/output_bias": (V,),
    }


def write_google_checkpoint(prefix, shapes: dict[str, tuple], seed: int) -> None:
    """Random values under the original names, plus an Adam slot and global_step like a released file."""
    rng = np.random.default_rng(seed)
    values = {
        name: (1.0 if name.endswith("gamma") else 0.0) + 0.2 * rng.standard_normal(shape)
        for name, shape in shapes.items()
    }
    variables = {name: tf.Variable(value.astype(np.float32)) for name, value in values.items()}
    first = sorted(shapes)[0]
    variables[f"{first}/adam_m"] = tf.Variable(np.zeros(shapes[first], np.float32))
    variables["global_step"] = tf.Variable(np.int64(1000))
    tf.compat.v1.train.Saver(var_list=variables).save(None, str(prefix))


def hf_model(kind: str, config: dict, prefix):
    import transformers as tr

    if kind == "bert":
        model = tr.BertForPreTraining(tr.BertConfig(**config))
        tr.models.bert.modeling_bert.load_tf_weights_in_bert(model, model.config, str(prefix))
    elif kind == "albert":
        model = tr.AlbertForPreTraining(tr.AlbertConfig(**config))
        tr.models.albert.modeling_albert.load_tf_weights_in_albert(model, model.config, str(prefix))
    else:
        model_class = tr.ElectraForMaskedLM if kind == "electra_generator" else tr.ElectraForPreTraining
        model = model_class(tr.ElectraConfig(**config))
        tr.models.electra.modeling_electra.load_tf_weights_in_electra(
            model, model.config, str(prefix), "generator" if kind == "electra_generator" else "discriminator"
        )
    return model.eval()


@pytest.fixture(scope="session")
def google_checkpoints(tmp_path_factory):
    """kind -> (HF model loaded by transformers, our loaded export, its build warnings, with_mlm)."""
    root = tmp_path_factory.mktemp("google_tf")
    for name, shapes, config_file, config in (
        ("bert", bert_variables(), "bert_config.json", BERT_CONFIG),
        ("albert", albert_variables(), "albert_config.json", ALBERT_CONFIG),
        ("electra", electra_variables(), None, None),
    ):
        (root / name).mkdir()
        write_google_checkpoint(root / name / "model.ckpt", shapes, seed=len(name))
        if config_file:
            (root / name / config_file).write_text(json.dumps(config))
    for name, family, config in (("discriminator", "electra", DISCRIMINATOR), ("generator", "electra", GENERATOR)):
        ours = dict(
            family=family,
            vocabulary_size=V,
            num_layers=2,
            num_heads=4,
            hidden_dim=config["hidden_size"],
            intermediate_dim=config["intermediate_size"],
            embedding_dim=E,
            max_sequence_length=P,
            hidden_activation="gelu",
            pooler="first_token",
        )
        (root / f"electra_{name}.json").write_text(json.dumps(ours))
    cases = {
        "bert": ("bert", BERT_CONFIG, None, True),
        "albert": ("albert", ALBERT_CONFIG, None, True),
        "electra_discriminator": ("electra", DISCRIMINATOR, root / "electra_discriminator.json", False),
        "electra_generator": ("electra", GENERATOR, root / "electra_generator.json", True),
    }
    results = {}
    for kind, (directory, config, config_file, with_mlm) in cases.items():
        prefix = root / directory / "model.ckpt"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CheckpointWarning)
            source = build_encoder(
                None, str(config_file) if config_file else None, checkpoint=str(prefix), with_mlm=with_mlm
            )
        target = root / f"{kind}_export"
        path = (
            export_encoder_with_mlm(source.model, source.mlm_head, target)
            if with_mlm
            else export_encoder(source.model, target)
        )
        messages = [str(w.message) for w in caught if issubclass(w.category, CheckpointWarning)]
        results[kind] = (hf_model(kind, config, prefix), tf.saved_model.load(str(path)), messages, with_mlm)
    return results


@pytest.mark.parametrize("kind", ["bert", "albert", "electra_discriminator", "electra_generator"])
def test_google_checkpoint_matches_transformers_loader(kind, google_checkpoints):
    model, loaded, _, with_mlm = google_checkpoints[kind]
    batch = padded_hf_batch(V, 0, 2)
    reference = hf_reference(model, batch, with_mlm=with_mlm)
    inputs = {k: tf.constant(v) for k, v in batch.items()}
    got = loaded.mlm({**inputs, "masked_lm_positions": tf.constant(MASKED_POSITIONS)}) if with_mlm else loaded(inputs)
    mask = batch["input_mask"].astype(bool)
    assert len(got["encoder_outputs"]) == model.config.num_hidden_layers
    for index, layer_output in enumerate(got["encoder_outputs"]):
        difference = np.max(np.abs(layer_output.numpy() - reference["hidden_states"][index + 1])[mask])
        assert difference <= TOLERANCE, (index, difference)
    expected_pooled = reference.get("pooled_output", reference["hidden_states"][-1][:, 0])
    assert np.max(np.abs(got["pooled_output"].numpy() - expected_pooled)) <= TOLERANCE
    if with_mlm:
        assert np.max(np.abs(got["mlm_logits"].numpy() - reference["mlm_logits"])) <= MLM_TOLERANCE


def test_training_state_and_unused_heads_are_listed_once(google_checkpoints):
    bert_messages = google_checkpoints["bert"][2]
    assert len(bert_messages) == 1
    for listed in ("training state", "'global_step'", "/adam_m'", "'cls/seq_relationship/output_weights'"):
        assert listed in bert_messages[0]
    discriminator_messages = google_checkpoints["electra_discriminator"][2]
    assert len(discriminator_messages) == 1
    unused = [name for name in electra_variables() if name.startswith(("generator", "discriminator_predictions"))]
    assert f"not exported ({len(unused) + 2} tensors)" in discriminator_messages[0]
    assert "'discriminator_predictions/dense/kernel'" in discriminator_messages[0]
