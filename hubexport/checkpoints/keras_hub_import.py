"""A keras-hub preset directory (config.json + model.weights.h5) -> `ImportedCheckpoint`.

A backbone preset gives the encoder; a MaskedLM task preset (task.json + task.weights.h5, e.g.
`BertMaskedLM.save_to_preset`) also gives its `mlm_head` (keras-hub's own numerics: its BERT and
RoBERTa heads use erf GELU and LayerNorm epsilon 1e-5, ALBERT's tanh GELU).

The backbone is loaded with keras-hub itself (its own loader validates the file), and its weights
are read by their variable paths, which come from the layer names in keras-hub's backbone code.
The numerics (activation, LayerNorm epsilon) are read from the loaded layers, so the import
computes what keras-hub computes, e.g. tanh-approximated GELU in its BERT, ALBERT and ELECTRA.
keras-hub's RoBERTa/XLM-R keep 512 position rows (fairseq's rows 2..513) and no token-type table:
they land at our padding-offset positions 2.., and rows 0-1 and the one-row token-type table are
zero. keras-hub's ELECTRA pooler is untrained and is not exported (ELECTRA pools the first token).
"""

from __future__ import annotations

import pathlib
from typing import Any

from hubexport.checkpoints import pooled_output
from hubexport.checkpoints.encoder_layout import (
    POSITION_EMBEDDING,
    SEGMENT_EMBEDDING,
    BlockNames,
    Dense,
    EmbeddingNames,
    LayerNorm,
    Layout,
    MaskedLMNames,
    block_path,
    block_rules,
    embedding_rules,
    masked_lm_rules,
    pooler_rules,
)
from hubexport.checkpoints.error_text import first_line
from hubexport.checkpoints.hf_config import read_json
from hubexport.checkpoints.imported import ImportedCheckpoint
from hubexport.checkpoints.tensors import InMemoryTensors
from hubexport.checkpoints.weight_assignment import KnownUnused, WeightPlan, ZeroFill
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.mlm_head import MaskedLMHeadSpec
from hubexport.errors import CheckpointError, ConfigError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
TASK_FILE = "task.json"
KERAS_HUB_MLM_HEAD = "mlm_head"  # the layer name keras-hub's MaskedLM tasks give their head
FAMILIES = {
    "BertBackbone": "bert",
    "RobertaBackbone": "roberta",
    "XLMRobertaBackbone": "xlm_roberta",
    "AlbertBackbone": "albert",
    "ElectraBackbone": "electra",
}
_ACTIVATIONS = {"gelu_approximate": "gelu_approximate", "gelu": "gelu", "relu": "relu"}
ROBERTA_PADDING_POSITION = 1


def is_keras_hub_config(values: dict[str, Any]) -> bool:
    return str(values.get("registered_name", "")).startswith("keras_hub>")


def _family(values: dict[str, Any], path: pathlib.Path) -> str:
    class_name = str(values.get("registered_name", "")).removeprefix("keras_hub>")
    if class_name not in FAMILIES:
        raise ConfigError(f"{path}: keras-hub class {class_name!r} is not supported; supported: {', '.join(FAMILIES)}")
    return FAMILIES[class_name]


def _load(preset_dir: pathlib.Path):
    """The backbone, and the LM head when the preset is a keras-hub MaskedLM task (task.json)."""
    try:
        import keras_hub
    except ImportError:
        raise CheckpointError(
            f"reading the keras-hub preset {preset_dir} needs keras-hub (pip install keras-hub)"
        ) from None
    task_file = preset_dir / TASK_FILE
    is_masked_lm = task_file.is_file() and str(read_json(task_file).get("registered_name", "")).endswith("MaskedLM")
    try:
        if is_masked_lm:
            task = keras_hub.models.MaskedLM.from_preset(str(preset_dir))
            return task.backbone, task.masked_lm_head
        return keras_hub.models.Backbone.from_preset(str(preset_dir), dtype="float32"), None
    except Exception as error:  # keras/h5py raise many types for unreadable weights
        raise CheckpointError(f"keras-hub cannot load {preset_dir}: {first_line(error)}") from None


def _activation(function, path: pathlib.Path) -> str:
    activation = _ACTIVATIONS.get(getattr(function, "__name__", ""))
    if activation is None:
        raise ConfigError(f"{path}: unsupported keras-hub activation {function!r}")
    return activation


def _numerics(backbone, path: pathlib.Path) -> tuple[str, float]:
    """The activation and LayerNorm epsilon keras-hub's layers actually use."""
    block = backbone.transformer_layers[0]
    block = block[0] if isinstance(block, list) else block
    activation = _activation(block.activation, path)
    epsilon = block.layer_norm_epsilon
    if backbone.embeddings_layer_norm.epsilon != epsilon:
        raise ConfigError(
            f"{path}: embedding and block LayerNorm epsilons differ "
            f"({backbone.embeddings_layer_norm.epsilon} vs {epsilon})"
        )
    return activation, epsilon


def _config(family: str, values: dict[str, Any], activation: str, epsilon: float, source: str) -> EncoderConfig:
    fields: dict[str, Any] = dict(
        family=family,
        vocabulary_size=values.get("vocabulary_size", values.get("vocab_size")),
        num_layers=values["num_layers"],
        num_heads=values["num_heads"],
        hidden_dim=values["hidden_dim"],
        intermediate_dim=values["intermediate_dim"],
        dropout=values.get("dropout", 0.1),
        max_sequence_length=values.get("max_sequence_length", 512),
        num_segments=values.get("num_segments", 2),
        hidden_activation=activation,
        layer_norm_epsilon=epsilon,
        pooler="dense_tanh" if family in ("bert", "albert") else "first_token",
    )
    if family in ("roberta", "xlm_roberta"):
        fields.update(num_segments=1, position_style="padding_offset", padding_position=ROBERTA_PADDING_POSITION)
    if family == "albert":
        fields.update(
            embedding_dim=values["embedding_dim"],
            num_groups=values.get("num_groups", 1),
            num_inner_repetitions=values.get("num_inner_repetitions", 1),
            always_project_embeddings=True,
        )
    if family == "electra":
        fields.update(embedding_dim=values["embedding_dim"])
    return EncoderConfig.from_dict(fields, source=source)


def _block_names(layer: str) -> BlockNames:
    def dense(name: str) -> Dense:
        return Dense(f"{layer}/{name}/kernel", f"{layer}/{name}/bias")

    def norm(name: str) -> LayerNorm:
        return LayerNorm(f"{layer}/{name}/gamma", f"{layer}/{name}/beta")

    return BlockNames(
        query=dense("self_attention_layer/query"),
        key=dense("self_attention_layer/key"),
        value=dense("self_attention_layer/value"),
        attention_output=dense("self_attention_layer/attention_output"),
        attention_norm=norm("self_attention_layer_norm"),
        intermediate=dense("feedforward_intermediate_dense"),
        output=dense("feedforward_output_dense"),
        output_norm=norm("feedforward_layer_norm"),
    )


def _layer_name(family: str, group: int, repetition: int) -> str:
    return f"group_{group}_inner_layer_{repetition}" if family == "albert" else f"transformer_layer_{group}"


def _masked_lm_spec(head, path: pathlib.Path) -> MaskedLMHeadSpec:
    return MaskedLMHeadSpec(
        activation=_activation(head.intermediate_activation, path),
        layer_norm_epsilon=head.layer_norm_epsilon,
        tied=head.token_embedding is not None,
    )


def _plan(family: str, config: EncoderConfig, mlm: MaskedLMHeadSpec | None, with_mlm: bool) -> WeightPlan:
    roberta = family in ("roberta", "xlm_roberta")
    embeddings = "embeddings/" if roberta else ""
    projection = {"albert": "embedding_projection", "electra": "embeddings_projection"}.get(family)
    names = EmbeddingNames(
        token=f"{embeddings}token_embedding/embeddings",
        position=f"{embeddings}position_embedding/embeddings",
        segment=None if roberta else "segment_embedding/embeddings",
        norm=LayerNorm("embeddings_layer_norm/gamma", "embeddings_layer_norm/beta"),
        projection=Dense(f"{projection}/kernel", f"{projection}/bias") if projection else None,
    )
    first_position = config.padding_position + 1 if roberta else 0
    rules = embedding_rules(
        names, config, Layout.KERAS_HUB, position_rows=(first_position, first_position + config.max_sequence_length)
    )
    for group in range(config.resolved_num_groups):
        for repetition in range(config.num_inner_repetitions):
            rules += block_rules(
                _block_names(_layer_name(family, group, repetition)),
                block_path(group, repetition),
                config,
                Layout.KERAS_HUB,
            )
    if config.pooler == "dense_tanh":
        rules += pooler_rules(Dense("pooled_dense/kernel", "pooled_dense/bias"), Layout.KERAS_HUB)
    zero_fills = (
        [ZeroFill(POSITION_EMBEDDING, rows=(0, first_position)), ZeroFill(SEGMENT_EMBEDDING)] if roberta else []
    )
    head = KERAS_HUB_MLM_HEAD
    if with_mlm:
        rules += masked_lm_rules(
            MaskedLMNames(
                transform=Dense(f"{head}/intermediate_dense/kernel", f"{head}/intermediate_dense/bias"),
                norm=LayerNorm(f"{head}/intermediate_layer_norm/gamma", f"{head}/intermediate_layer_norm/beta"),
                output_bias=f"{head}/output_bias",
                output_kernel=None if mlm.tied else f"{head}/output_kernel",
            ),
            Layout.KERAS_HUB,
        )
    known = [KnownUnused("masked-LM head", lambda name: name.startswith(f"{head}/"))]
    if family == "electra":
        known.append(KnownUnused("keras-hub's untrained ELECTRA pooler", lambda name: name.startswith("pooled_dense/")))
    return WeightPlan(rules=rules, zero_fills=zero_fills, known_unused=known)


def import_keras_hub(preset_dir: pathlib.Path) -> ImportedCheckpoint:
    """Loads the preset with keras-hub and describes how its weights fill our encoder."""
    config_path = preset_dir / CONFIG_FILE
    values = read_json(config_path)
    family = _family(values, config_path)
    backbone, head = _load(preset_dir)
    activation, epsilon = _numerics(backbone, config_path)
    config = _config(family, values.get("config", {}), activation, epsilon, str(config_path))
    weights = [*backbone.weights, *(head.weights if head is not None else [])]
    tensors = InMemoryTensors({variable.path: variable.numpy() for variable in weights}, str(preset_dir))
    mlm = _masked_lm_spec(head, config_path) if head is not None else None
    description = f"keras-hub {values['registered_name'].removeprefix('keras_hub>')} at {preset_dir}"
    has_pooler = "pooled_dense/kernel" in tensors.names()
    pooled = pooled_output.decide(family, has_pooler, description)
    config = pooled_output.with_pooler(config, pooled)
    return ImportedCheckpoint(
        config=config,
        pooled_output=pooled,
        tensors=tensors,
        mlm=mlm,
        plan=lambda with_mlm: _plan(family, config, mlm, with_mlm),
        description=description,
    )
