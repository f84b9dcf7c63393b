"""Hugging Face tensor names -> our weights, for BERT, RoBERTa, XLM-R, ALBERT and ELECTRA.

Base models are saved without a prefix (`embeddings.word_embeddings.weight`); task models put the
encoder under the family's `base_model_prefix` (`bert.`, `roberta.`, `albert.`, `electra.`) and
their heads outside it. Heads other than the exported LM head are listed in the one warning.
safetensors files drop tied duplicates (the LM decoder matrix and bias); `pytorch_model.bin` keeps
them, so where present they are checked to equal what they are tied to.
"""

from __future__ import annotations

import dataclasses

from hubexport.checkpoints.encoder_layout import (
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
from hubexport.checkpoints.weight_assignment import Duplicate, KnownUnused, WeightPlan
from hubexport.encoders.config import EncoderConfig
from hubexport.errors import CheckpointError

BASE_MODEL_PREFIX = {
    "bert": "bert.",
    "roberta": "roberta.",
    "xlm_roberta": "roberta.",
    "albert": "albert.",
    "electra": "electra.",
}
_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")


@dataclasses.dataclass(frozen=True)
class _LMHead:
    """Where a family's LM head lives: module names under `scope`; the output bias under the
    first of `biases` present (the others are tied copies)."""

    scope: str
    transform: str
    norm: str
    decoder: str
    biases: tuple[str, ...]

    def name(self, module: str) -> str:
        return f"{self.scope}{module}"


_BERT_STYLE_BIASES = ("bias", "decoder.bias")
_LM_HEADS = {
    "bert": _LMHead("cls.predictions.", "transform.dense", "transform.LayerNorm", "decoder", _BERT_STYLE_BIASES),
    "roberta": _LMHead("lm_head.", "dense", "layer_norm", "decoder", _BERT_STYLE_BIASES),
    "xlm_roberta": _LMHead("lm_head.", "dense", "layer_norm", "decoder", _BERT_STYLE_BIASES),
    "albert": _LMHead("predictions.", "dense", "LayerNorm", "decoder", _BERT_STYLE_BIASES),
    "electra": _LMHead(
        "",
        "generator_predictions.dense",
        "generator_predictions.LayerNorm",
        "generator_lm_head",
        ("generator_lm_head.bias",),
    ),
}


def _dense(name: str) -> Dense:
    return Dense(f"{name}.weight", f"{name}.bias")


def _norm(name: str) -> LayerNorm:
    return LayerNorm(f"{name}.weight", f"{name}.bias")


def base_prefix(family: str, names: frozenset[str]) -> str:
    """The encoder's prefix in this checkpoint: the family's for task models, '' for base models."""
    prefix = BASE_MODEL_PREFIX[family]
    if any(name.startswith(prefix) for name in names):
        return prefix
    if any(name.startswith("embeddings.") for name in names):
        return ""
    raise CheckpointError(
        f"no {family} encoder tensors found: expected names starting with '{prefix}embeddings.' or 'embeddings.'"
    )


def has_pooler(family: str, prefix: str, names: frozenset[str]) -> bool:
    return pooler_names(family, prefix).kernel in names


def pooler_names(family: str, prefix: str) -> Dense:
    return _dense(f"{prefix}pooler" if family == "albert" else f"{prefix}pooler.dense")


def embedding_names(family: str, prefix: str) -> EmbeddingNames:
    embeddings = f"{prefix}embeddings"
    projection = {
        "albert": f"{prefix}encoder.embedding_hidden_mapping_in",
        "electra": f"{prefix}embeddings_project",
    }.get(family)
    return EmbeddingNames(
        token=f"{embeddings}.word_embeddings.weight",
        position=f"{embeddings}.position_embeddings.weight",
        segment=f"{embeddings}.token_type_embeddings.weight",
        norm=_norm(f"{embeddings}.LayerNorm"),
        projection=_dense(projection) if projection else None,
    )


def block_names(family: str, prefix: str, group: int, repetition: int) -> BlockNames:
    if family == "albert":
        layer = f"{prefix}encoder.albert_layer_groups.{group}.albert_layers.{repetition}"
        return BlockNames(
            query=_dense(f"{layer}.attention.query"),
            key=_dense(f"{layer}.attention.key"),
            value=_dense(f"{layer}.attention.value"),
            attention_output=_dense(f"{layer}.attention.dense"),
            attention_norm=_norm(f"{layer}.attention.LayerNorm"),
            intermediate=_dense(f"{layer}.ffn"),
            output=_dense(f"{layer}.ffn_output"),
            output_norm=_norm(f"{layer}.full_layer_layer_norm"),
        )
    layer = f"{prefix}encoder.layer.{group}"
    return BlockNames(
        query=_dense(f"{layer}.attention.self.query"),
        key=_dense(f"{layer}.attention.self.key"),
        value=_dense(f"{layer}.attention.self.value"),
        attention_output=_dense(f"{layer}.attention.output.dense"),
        attention_norm=_norm(f"{layer}.attention.output.LayerNorm"),
        intermediate=_dense(f"{layer}.intermediate.dense"),
        output=_dense(f"{layer}.output.dense"),
        output_norm=_norm(f"{layer}.output.LayerNorm"),
    )


def has_masked_lm_head(family: str, names: frozenset[str]) -> bool:
    head = _LM_HEADS[family]
    return head.name(f"{head.transform}.weight") in names


def _masked_lm(family: str, prefix: str, names: frozenset[str], tied: bool) -> tuple[MaskedLMNames, list[Duplicate]]:
    head = _LM_HEADS[family]
    biases = [head.name(bias) for bias in head.biases if head.name(bias) in names] or [head.name(head.biases[0])]
    duplicates = [Duplicate(copy, biases[0]) for copy in biases[1:]]
    decoder = head.name(f"{head.decoder}.weight")
    if tied:
        duplicates.append(Duplicate(decoder, embedding_names(family, prefix).token))
    names_of_head = MaskedLMNames(
        transform=_dense(head.name(head.transform)),
        norm=_norm(head.name(head.norm)),
        output_bias=biases[0],
        output_kernel=None if tied else decoder,
    )
    return names_of_head, duplicates


def hf_plan(family: str, config: EncoderConfig, names: frozenset[str], with_mlm: bool, tied: bool) -> WeightPlan:
    """The strict plan that fills our `config` model (and its LM head if `with_mlm`) from `names`."""
    prefix = base_prefix(family, names)
    rules = embedding_rules(embedding_names(family, prefix), config, Layout.TORCH)
    for group in range(config.resolved_num_groups):
        for repetition in range(config.num_inner_repetitions):
            rules += block_rules(
                block_names(family, prefix, group, repetition), block_path(group, repetition), config, Layout.TORCH
            )
    if config.pooler == "dense_tanh":
        rules += pooler_rules(pooler_names(family, prefix), Layout.TORCH)
    duplicates: list[Duplicate] = []
    if with_mlm:
        lm, duplicates = _masked_lm(family, prefix, names, tied)
        rules += masked_lm_rules(lm, Layout.TORCH)
    known = [KnownUnused("buffers", lambda name: name.endswith(_BUFFERS))]
    if prefix:
        known.append(KnownUnused("task heads", lambda name: not name.startswith(prefix)))
    return WeightPlan(rules=rules, duplicates=duplicates, known_unused=known)
