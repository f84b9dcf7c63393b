"""The pooled-output policy per family, decided from what the checkpoint holds; never random.

BERT and ALBERT use their trained dense+tanh pooler. ELECTRA defines `pooled_output` as the first
token's final hidden state (a pooler in a checkpoint, such as keras-hub's untrained one, is
ignored). RoBERTa and XLM-R use the checkpoint's pooler where one exists, else the first token.
A BERT/ALBERT checkpoint saved without its pooler (e.g. from `BertForMaskedLM`) falls back to
the first token, with a warning. The chosen policy and its reason go into the export metadata.
"""

from __future__ import annotations

import dataclasses
import warnings

from hubexport.checkpoints.weight_assignment import CheckpointWarning
from hubexport.encoders.config import EncoderConfig


@dataclasses.dataclass(frozen=True)
class PooledOutput:
    """`pooler` is the EncoderConfig value; `reason` says why, for metadata and model cards."""

    pooler: str
    reason: str

    def metadata(self) -> dict[str, str]:
        return {"policy": self.pooler, "reason": self.reason}


def decide(family: str, checkpoint_has_pooler: bool, description: str) -> PooledOutput:
    """The policy for a `family` checkpoint that does or does not carry a pooler."""
    if family == "electra":
        return PooledOutput("first_token", "ELECTRA defines pooled_output as the first token's final hidden state")
    if checkpoint_has_pooler:
        return PooledOutput("dense_tanh", "the checkpoint's dense+tanh pooler on the first token")
    if family in ("roberta", "xlm_roberta"):
        return PooledOutput(
            "first_token",
            "the checkpoint has no pooler (as released RoBERTa/XLM-R "
            "checkpoints): the first token's final hidden state",
        )
    warnings.warn(
        f"{description} has no pooler weights: pooled_output is the first token's final hidden state, "
        "not BERT/ALBERT's trained dense+tanh pooler",
        CheckpointWarning,
        stacklevel=3,
    )
    return PooledOutput("first_token", "the checkpoint has no pooler: the first token's final hidden state")


def with_pooler(config: EncoderConfig, pooled: PooledOutput) -> EncoderConfig:
    return dataclasses.replace(config, pooler=pooled.pooler)
