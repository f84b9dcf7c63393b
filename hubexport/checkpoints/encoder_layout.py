"""Our encoder's weights, and how a checkpoint's embeddings, blocks, pooler and LM head fill them.

An importer only names the checkpoint tensors of each part (`EmbeddingNames`, `BlockNames`, ...)
and says how its kernels are stored (`Layout`); the rules that land them in our weights, including
the fused `[q | k | v]` attention projection, are built here once for every format.
"""

from __future__ import annotations

import dataclasses
import enum

import keras

from hubexport.checkpoints.weight_assignment import Range, Rule
from hubexport.encoders.backbone import EncoderBackbone
from hubexport.encoders.config import EncoderConfig

TOKEN_EMBEDDING = "embeddings/token_embedding/embeddings"
POSITION_EMBEDDING = "embeddings/position_embedding/embeddings"
SEGMENT_EMBEDDING = "embeddings/segment_embedding/embeddings"
MLM_HEAD = "mlm_head"


class Layout(enum.Enum):
    """How a format stores dense kernels."""

    TORCH = "torch"  # [out, in]: transposed on import
    TF = "tf"  # [in, out], as Keras
    KERAS_HUB = "keras_hub"  # [in, out], attention kernels split per head


@dataclasses.dataclass(frozen=True)
class Dense:
    kernel: str
    bias: str


@dataclasses.dataclass(frozen=True)
class LayerNorm:
    gamma: str
    beta: str


@dataclasses.dataclass(frozen=True)
class EmbeddingNames:
    token: str
    position: str
    segment: str | None
    norm: LayerNorm
    projection: Dense | None = None


@dataclasses.dataclass(frozen=True)
class BlockNames:
    query: Dense
    key: Dense
    value: Dense
    attention_output: Dense
    attention_norm: LayerNorm
    intermediate: Dense
    output: Dense
    output_norm: LayerNorm


@dataclasses.dataclass(frozen=True)
class MaskedLMNames:
    """The LM head; `output_kernel` only when the checkpoint does not tie it to the token embedding."""

    transform: Dense
    norm: LayerNorm
    output_bias: str
    output_kernel: str | None = None


def block_path(group: int, repetition: int) -> str:
    """Our name for the `repetition`-th block of shared group `group` (layer `group` if unshared)."""
    return f"group_{group}_block_{repetition}"


def model_weights(model: EncoderBackbone, *heads: keras.layers.Layer | None) -> dict[str, keras.Variable]:
    """Weight path -> variable for the model (paths without the model's name) and its heads (LM head,
    classifier; None entries are skipped), under their own paths.

    A tied output matrix is the token embedding itself and appears once, under the model's path.
    """
    weights = {variable.path.split("/", 1)[1]: variable for variable in model.weights}
    own = {id(variable) for variable in weights.values()}
    for head in heads:
        if head is not None:
            weights.update({variable.path: variable for variable in head.weights if id(variable) not in own})
    return weights


def dense_rules(names: Dense, target: str, layout: Layout, columns: Range | None = None) -> list[Rule]:
    """A plain dense layer (or a column block of a wider one)."""
    return [
        Rule(names.kernel, f"{target}/kernel", transpose=layout is Layout.TORCH, columns=columns),
        Rule(names.bias, f"{target}/bias", columns=columns),
    ]


def norm_rules(names: LayerNorm, target: str) -> list[Rule]:
    return [Rule(names.gamma, f"{target}/gamma"), Rule(names.beta, f"{target}/beta")]


def embedding_rules(
    names: EmbeddingNames, config: EncoderConfig, layout: Layout, position_rows: Range | None = None
) -> list[Rule]:
    """Token, position (into `position_rows` of our table, default all), segment, norm, projection.

    A format without a token-type table (`names.segment=None`) leaves our segment table to a ZeroFill.
    """
    rules = [Rule(names.token, TOKEN_EMBEDDING), Rule(names.position, POSITION_EMBEDDING, rows=position_rows)]
    if config.num_segments and names.segment is not None:
        rules.append(Rule(names.segment, SEGMENT_EMBEDDING))
    rules += norm_rules(names.norm, "embeddings/embeddings_layer_norm")
    if config.projects_embeddings:
        rules += dense_rules(names.projection, "embeddings/embeddings_projection", layout)
    return rules


def block_rules(names: BlockNames, target: str, config: EncoderConfig, layout: Layout) -> list[Rule]:
    """One transformer block; query, key and value go side by side into the fused projection."""
    hidden, heads = config.hidden_dim, config.num_heads
    rules = []
    for index, part in enumerate((names.query, names.key, names.value)):
        columns = (index * hidden, (index + 1) * hidden)
        if layout is Layout.KERAS_HUB:
            rules += [
                Rule(
                    part.kernel,
                    f"{target}/self_attention/query_key_value/kernel",
                    columns=columns,
                    source_shape=(hidden, heads, hidden // heads),
                ),
                Rule(
                    part.bias,
                    f"{target}/self_attention/query_key_value/bias",
                    columns=columns,
                    source_shape=(heads, hidden // heads),
                ),
            ]
        else:
            rules += dense_rules(part, f"{target}/self_attention/query_key_value", layout, columns)
    if layout is Layout.KERAS_HUB:
        rules += [
            Rule(
                names.attention_output.kernel,
                f"{target}/self_attention/attention_output/kernel",
                source_shape=(heads, hidden // heads, hidden),
            ),
            Rule(names.attention_output.bias, f"{target}/self_attention/attention_output/bias"),
        ]
    else:
        rules += dense_rules(names.attention_output, f"{target}/self_attention/attention_output", layout)
    rules += norm_rules(names.attention_norm, f"{target}/attention_layer_norm")
    rules += dense_rules(names.intermediate, f"{target}/intermediate", layout)
    rules += dense_rules(names.output, f"{target}/output", layout)
    rules += norm_rules(names.output_norm, f"{target}/output_layer_norm")
    return rules


def pooler_rules(names: Dense, layout: Layout) -> list[Rule]:
    return dense_rules(names, "pooler/pooler_dense", layout)


def masked_lm_rules(names: MaskedLMNames, layout: Layout) -> list[Rule]:
    """The LM head: transform dense, LayerNorm, output bias (and an untied output matrix)."""
    rules = dense_rules(names.transform, f"{MLM_HEAD}/transform", layout)
    rules += norm_rules(names.norm, f"{MLM_HEAD}/layer_norm")
    rules.append(Rule(names.output_bias, f"{MLM_HEAD}/output_bias"))
    if names.output_kernel is not None:
        rules.append(Rule(names.output_kernel, f"{MLM_HEAD}/output_kernel", transpose=layout is Layout.TORCH))
    return rules
