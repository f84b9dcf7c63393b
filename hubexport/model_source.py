"""Where an encoder comes from: a checkpoint, a built-in preset or a config file.

With a checkpoint the architecture comes from the checkpoint (its config.json, keras-hub config
or a config file beside a TF checkpoint); --preset / --config_file are then optional and, if
given, must describe the same architecture. A TF checkpoint without a config file takes its
architecture from them. Without a checkpoint the weights are random.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from hubexport.checkpoints.encoder_layout import MLM_HEAD
from hubexport.checkpoints.hf_classifier_head import ClassifierHeadSpec
from hubexport.checkpoints.loader import build_loaded, read_checkpoint
from hubexport.checkpoints.pooled_output import PooledOutput
from hubexport.encoders.backbone import EncoderBackbone
from hubexport.encoders.classifier_heads import ClassifierHead
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.mlm_head import MaskedLMHead, MaskedLMHeadSpec
from hubexport.encoders.presets import get_preset
from hubexport.errors import ConfigError
from hubexport.progress import stage

# Fields that make two configs the same architecture; dropout and initializer range do not, and
# the pooler is decided by the checkpoint's weights.
_ARCHITECTURE_FIELDS = (
    "family",
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "resolved_embedding_dim",
    "resolved_num_groups",
    "num_inner_repetitions",
    "projects_embeddings",
    "max_sequence_length",
    "num_segments",
    "hidden_activation",
    "layer_norm_epsilon",
    "position_style",
)


@dataclasses.dataclass
class EncoderSource:
    """A built encoder (with its LM head or classifier head if asked for) and a description of its origin.

    `model`, `mlm_head` and `classifier` are None once `take_model()`, `take_mlm_head()` and
    `take_classifier()` handed them over; `classifier_spec` describes the classifier head.
    """

    model: EncoderBackbone | None
    architecture: str
    weights: str
    pooled_output: PooledOutput
    mlm_head: MaskedLMHead | None = None
    classifier: ClassifierHead | None = None
    classifier_spec: ClassifierHeadSpec | None = None

    def take_model(self) -> EncoderBackbone:
        """Hands the model over and forgets it, so the taker can hold the last reference.

        An export that holds the last reference frees the weights before it reloads its SavedModel.
        """
        model, self.model = self.model, None
        return model

    def take_mlm_head(self) -> MaskedLMHead | None:
        """`take_model` for the LM head, which holds the tied token embedding too."""
        head, self.mlm_head = self.mlm_head, None
        return head

    def take_classifier(self) -> ClassifierHead | None:
        """`take_model` for the classifier head."""
        head, self.classifier = self.classifier, None
        return head

    @property
    def metadata(self) -> dict[str, Any]:
        """What the export metadata (hubexport.json) records about the source."""
        return {
            "architecture": self.architecture,
            "weights": self.weights,
            "pooled_output": self.pooled_output.metadata(),
        }


def encoder_config_from(preset: str | None, config_file: str | None) -> tuple[EncoderConfig, str]:
    """The encoder config named by exactly one of `preset` and `config_file`, and its label."""
    if bool(preset) == bool(config_file):
        raise ConfigError("pass exactly one of --preset and --config_file")
    if preset:
        return get_preset(preset).encoder, f"preset {preset}"
    return EncoderConfig.from_json_file(config_file), f"config file {config_file}"


def _architecture(config: EncoderConfig) -> dict[str, Any]:
    values = {name: getattr(config, name) for name in _ARCHITECTURE_FIELDS}
    if config.position_style == "padding_offset":
        values["padding_position"] = config.padding_position
    return values


def check_agreement(given: EncoderConfig, label: str, checkpoint: EncoderConfig) -> None:
    """Raises ConfigError listing every architecture field where `given` and the checkpoint differ."""
    expected, actual = _architecture(given), _architecture(checkpoint)
    differences = [
        f"{name}={expected.get(name)!r} vs {actual.get(name)!r}"
        for name in sorted(set(expected) | set(actual))
        if expected.get(name) != actual.get(name)
    ]
    if differences:
        raise ConfigError(
            f"{label} does not match the checkpoint's architecture ({label} vs checkpoint): {'; '.join(differences)}"
        )


def build_encoder(
    preset: str | None,
    config_file: str | None,
    dtype: str = "float32",
    seed: int | None = None,
    checkpoint: str | None = None,
    checkpoint_format: str | None = None,
    with_mlm: bool = False,
    with_classifier: bool = False,
) -> EncoderSource:
    """Builds an encoder (and, if `with_mlm`, its masked-LM head) from a checkpoint or a config.

    Without `checkpoint` exactly one of `preset` / `config_file` is required and the weights are
    random (seeded by `seed`). `with_classifier` needs a Hugging Face classification checkpoint and builds
    its head too.
    """
    if with_classifier and not checkpoint:
        raise ConfigError("a classifier export needs --checkpoint: a Hugging Face classification model directory")
    given = encoder_config_from(preset, config_file) if (preset or config_file or not checkpoint) else None
    if checkpoint:
        with stage("read checkpoint"):
            imported = read_checkpoint(
                checkpoint, checkpoint_format, given[0] if given else None, with_mlm, with_classifier
            )
        if given and imported.has_own_config:
            check_agreement(given[0], given[1], imported.config)
        with stage("build encoder"):
            loaded = build_loaded(imported, dtype, with_mlm, with_classifier)
        config = imported.config
        architecture = (
            given[1]
            if given
            else f"{config.family}, {config.num_layers} layers, hidden {config.hidden_dim} (from the checkpoint)"
        )
        return EncoderSource(
            model=loaded.model,
            architecture=architecture,
            weights=imported.description,
            pooled_output=imported.pooled_output,
            mlm_head=loaded.mlm_head,
            classifier=loaded.classifier,
            classifier_spec=imported.classifier if with_classifier else None,
        )
    config, architecture = given
    if seed is not None:
        keras.utils.set_random_seed(seed)
    with stage("build encoder"):
        model = EncoderBackbone.from_config({"encoder_config": config.to_dict(), "dtype": dtype})
        head = (
            MaskedLMHead(
                config,
                MaskedLMHeadSpec.for_config(config),
                model.token_embedding,
                dtype=model.dtype_policy,
                name=MLM_HEAD,
            )
            if with_mlm
            else None
        )
    pooler = (
        "a randomly initialized dense+tanh pooler"
        if config.pooler == "dense_tanh"
        else "the first token's final hidden state"
    )
    return EncoderSource(
        model=model,
        architecture=architecture,
        weights="random initialization",
        pooled_output=PooledOutput(config.pooler, f"no checkpoint: {pooler}"),
        mlm_head=head,
    )
