"""Google's original TF checkpoints (BERT, ALBERT, ELECTRA) -> `ImportedCheckpoint`.

Read with `tf.train.load_checkpoint`; kernels are stored `[in, out]` as in Keras. Layouts:
BERT `bert/embeddings/...`, `bert/encoder/layer_N/...`; ALBERT `bert/encoder/embedding_hidden_
mapping_in`, `bert/encoder/transformer/group_G/inner_group_R/{attention_1,LayerNorm,ffn_1,LayerNorm_1}`;
ELECTRA `electra/...` (discriminator) and `generator/...` (generator, sharing `electra/embeddings`
unless it has its own), heads `discriminator_predictions/`, `generator_predictions/`. The checkpoint
carries no architecture: it comes from a config file beside it (`bert_config.json`,
`albert_config.json` or `config.json`, Hugging Face keys and semantics, so "gelu" is erf GELU as
transformers reads it) or from --preset / --config_file.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from hubexport import user_files
from hubexport.checkpoints import pooled_output
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
from hubexport.checkpoints.error_text import first_line
from hubexport.checkpoints.hf_config import architecture_from, read_json
from hubexport.checkpoints.imported import ImportedCheckpoint
from hubexport.checkpoints.tensors import TensorSource
from hubexport.checkpoints.weight_assignment import KnownUnused, WeightPlan
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.mlm_head import MaskedLMHeadSpec
from hubexport.errors import CheckpointError, ConfigError

CONFIG_FILES = ("bert_config.json", "albert_config.json", "config.json")
STATE_FILE = "checkpoint"  # names the latest checkpoint of a directory
_TRAINING_STATE = {
    "adam_m",
    "adam_v",
    "AdamWeightDecayOptimizer",
    "AdamWeightDecayOptimizer_1",
    "global_step",
    "temperature",
}
_LM_HEAD_SCOPE = {"bert": "cls/predictions", "albert": "cls/predictions", "electra": "generator_predictions"}


class TFCheckpointTensors(TensorSource):
    """The variables of a TF checkpoint (`tf.train.load_checkpoint`), by their full names."""

    def __init__(self, prefix: str):
        import tensorflow as tf

        try:
            self._reader = tf.train.load_checkpoint(prefix)
            self._shapes = {name: tuple(shape) for name, shape in self._reader.get_variable_to_shape_map().items()}
        except (tf.errors.OpError, ValueError) as error:
            raise CheckpointError(f"cannot read TF checkpoint {prefix}: {first_line(error)}") from None
        self.description = prefix

    def names(self) -> frozenset[str]:
        return frozenset(self._shapes)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._shapes[name]

    def read(self, name: str) -> np.ndarray:
        """Tensor `name` as float32; CheckpointError naming it if the data file is truncated or corrupt."""
        import tensorflow as tf

        try:
            return np.asarray(self._reader.get_tensor(name), dtype=np.float32)
        except (tf.errors.OpError, IndexError) as error:  # IndexError: a truncated data file
            raise CheckpointError(
                f"cannot read tensor {name!r} of TF checkpoint {self.description}: {first_line(error)}"
            ) from None


def checkpoint_prefix(path: pathlib.Path) -> str | None:
    """The checkpoint prefix that `path` names: itself, or the latest/only one in a directory."""
    if pathlib.Path(f"{path}.index").is_file():
        return str(path)
    if path.is_dir():
        import tensorflow as tf

        if (path / STATE_FILE).exists():  # TensorFlow reads it too, but a file that is not UTF-8 crashes it
            user_files.read_text(path / STATE_FILE, error=CheckpointError, what="TF checkpoint state file")
        latest = tf.train.latest_checkpoint(str(path))
        if latest:
            return latest
        indexes = sorted(path.glob("*.index"))
        if len(indexes) == 1:
            return str(indexes[0].with_suffix(""))
    return None


def family_from_names(names: frozenset[str], source: str) -> str:
    if "electra/embeddings/word_embeddings" in names:
        return "electra"
    if any(name.startswith("bert/encoder/transformer/group_0/") for name in names):
        return "albert"
    if any(name.startswith("bert/encoder/layer_0/") for name in names):
        return "bert"
    raise CheckpointError(
        f"{source}: not a Google BERT, ALBERT or ELECTRA checkpoint "
        "(no bert/encoder/layer_0, bert/encoder/transformer/group_0 or electra/embeddings)"
    )


def _dense(scope: str) -> Dense:
    return Dense(f"{scope}/kernel", f"{scope}/bias")


def _norm(scope: str) -> LayerNorm:
    return LayerNorm(f"{scope}/gamma", f"{scope}/beta")


def _bert_block(layer: str) -> BlockNames:
    return BlockNames(
        query=_dense(f"{layer}/attention/self/query"),
        key=_dense(f"{layer}/attention/self/key"),
        value=_dense(f"{layer}/attention/self/value"),
        attention_output=_dense(f"{layer}/attention/output/dense"),
        attention_norm=_norm(f"{layer}/attention/output/LayerNorm"),
        intermediate=_dense(f"{layer}/intermediate/dense"),
        output=_dense(f"{layer}/output/dense"),
        output_norm=_norm(f"{layer}/output/LayerNorm"),
    )


def _albert_block(layer: str) -> BlockNames:
    return BlockNames(
        query=_dense(f"{layer}/attention_1/self/query"),
        key=_dense(f"{layer}/attention_1/self/key"),
        value=_dense(f"{layer}/attention_1/self/value"),
        attention_output=_dense(f"{layer}/attention_1/output/dense"),
        attention_norm=_norm(f"{layer}/LayerNorm"),
        intermediate=_dense(f"{layer}/ffn_1/intermediate/dense"),
        output=_dense(f"{layer}/ffn_1/intermediate/output/dense"),
        output_norm=_norm(f"{layer}/LayerNorm_1"),
    )


@dataclasses.dataclass(frozen=True)
class _Tower:
    """Where one encoder lives in the checkpoint: its embeddings scope and its encoder scope."""

    embeddings: str
    scope: str

    def embedding_names(self, family: str) -> EmbeddingNames:
        projection = (
            "bert/encoder/embedding_hidden_mapping_in" if family == "albert" else f"{self.scope}/embeddings_project"
        )
        return EmbeddingNames(
            token=f"{self.embeddings}/word_embeddings",
            position=f"{self.embeddings}/position_embeddings",
            segment=f"{self.embeddings}/token_type_embeddings",
            norm=_norm(f"{self.embeddings}/LayerNorm"),
            projection=_dense(projection),
        )

    def block_names(self, family: str, group: int, repetition: int) -> BlockNames:
        if family == "albert":
            return _albert_block(f"bert/encoder/transformer/group_{group}/inner_group_{repetition}")
        return _bert_block(f"{self.scope}/encoder/layer_{group}")


def _electra_tower(tensors: TensorSource, config: EncoderConfig, prefer_generator: bool) -> _Tower:
    """The discriminator (`electra/`) or the generator (`generator/`) whose sizes match `config`."""
    names = tensors.names()

    def fits(scope: str) -> bool:
        query = f"{scope}/encoder/layer_0/attention/self/query/kernel"
        return (
            query in names
            and tensors.shape(query) == (config.hidden_dim,) * 2
            and f"{scope}/encoder/layer_{config.num_layers - 1}/output/dense/kernel" in names
            and f"{scope}/encoder/layer_{config.num_layers}/output/dense/kernel" not in names
        )

    shared = "generator/embeddings" if "generator/embeddings/word_embeddings" in names else "electra/embeddings"
    candidates = [_Tower("electra/embeddings", "electra"), _Tower(shared, "generator")]
    if prefer_generator:
        candidates.reverse()
    for tower in candidates:
        if fits(tower.scope):
            return tower
    raise CheckpointError(
        f"neither the ELECTRA discriminator (electra/) nor the generator (generator/) in the "
        f"checkpoint has {config.num_layers} layers of width {config.hidden_dim}"
    )


def _known_unused(family: str, tower: _Tower) -> list[KnownUnused]:
    known = [KnownUnused("training state", lambda name: bool(_TRAINING_STATE & set(name.split("/"))))]
    if family in ("bert", "albert"):
        known.append(KnownUnused("pre-training heads", lambda name: name.startswith("cls/")))
    else:
        other = "generator" if tower.scope == "electra" else "electra"
        known.append(
            KnownUnused(
                "the other ELECTRA tower and heads",
                lambda name: name.startswith(
                    (f"{other}/", "discriminator_predictions/", "generator_predictions/", "generator/embeddings/")
                ),
            )
        )
    return known


def _plan(family: str, config: EncoderConfig, tower: _Tower, with_mlm: bool) -> WeightPlan:
    rules = embedding_rules(tower.embedding_names(family), config, Layout.TF)
    for group in range(config.resolved_num_groups):
        for repetition in range(config.num_inner_repetitions):
            rules += block_rules(
                tower.block_names(family, group, repetition), block_path(group, repetition), config, Layout.TF
            )
    if config.pooler == "dense_tanh":
        rules += pooler_rules(_dense("bert/pooler/dense"), Layout.TF)
    if with_mlm:
        head = _LM_HEAD_SCOPE[family]
        transform = f"{head}/dense" if family == "electra" else f"{head}/transform/dense"
        norm = f"{head}/LayerNorm" if family == "electra" else f"{head}/transform/LayerNorm"
        rules += masked_lm_rules(MaskedLMNames(_dense(transform), _norm(norm), f"{head}/output_bias"), Layout.TF)
    return WeightPlan(rules=rules, known_unused=_known_unused(family, tower))


def _architecture(prefix: str, family: str, given: EncoderConfig | None) -> tuple[EncoderConfig, bool]:
    """The config beside the checkpoint if there is one, else the one given on the command line."""
    directory = pathlib.Path(prefix).parent
    for name in CONFIG_FILES:
        if (directory / name).is_file():
            return architecture_from(read_json(directory / name), family, str(directory / name)).config, True
    if given is None:
        raise ConfigError(
            f"the TF checkpoint {prefix} has no config file beside it ({', '.join(CONFIG_FILES)}): "
            "pass --preset or --config_file for its architecture"
        )
    if given.family != family:
        raise ConfigError(
            f"the TF checkpoint {prefix} holds a {family} model, but the given architecture is {given.family}"
        )
    return given, False


def import_google_tf(path: pathlib.Path, given: EncoderConfig | None, prefer_generator: bool) -> ImportedCheckpoint:
    """Reads a Google-layout checkpoint; for ELECTRA picks the tower matching the architecture."""
    prefix = checkpoint_prefix(path)
    if prefix is None:
        raise CheckpointError(f"{path} is not a TF checkpoint (no {path.name}.index, no checkpoint in the directory)")
    tensors = TFCheckpointTensors(prefix)
    names = tensors.names()
    family = family_from_names(names, prefix)
    config, own_config = _architecture(prefix, family, given)
    tower = (
        _electra_tower(tensors, config, prefer_generator) if family == "electra" else _Tower("bert/embeddings", "bert")
    )
    description = f"Google {family} TF checkpoint {prefix}" + (" (generator)" if tower.scope == "generator" else "")
    pooled = pooled_output.decide(family, "bert/pooler/dense/kernel" in names, description)
    config = pooled_output.with_pooler(config, pooled)
    head = _LM_HEAD_SCOPE[family]
    has_head = f"{head}/output_bias" in names and (family != "electra" or tower.scope == "generator")
    mlm = MaskedLMHeadSpec.for_config(config) if has_head else None
    return ImportedCheckpoint(
        config=config,
        pooled_output=pooled,
        tensors=tensors,
        mlm=mlm,
        plan=lambda with_mlm: _plan(family, config, tower, with_mlm),
        description=description,
        has_own_config=own_config,
    )
