"""Activations by config name: exact (erf) GELU, tanh-approximated GELU, ReLU, and tanh (classifier heads).

Checkpoints disagree (original BERT/ALBERT-v2 use the tanh form, RoBERTa and ELECTRA the erf
form), so the choice is configuration; `from_hf_name` maps Hugging Face's `hidden_act` values.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from hubexport.errors import ConfigError

_HF_NAMES = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "gelu_fast": "gelu_approximate",
    "relu": "relu",
}


def get(name: str) -> Callable:
    """The activation function for a config name."""
    if name == "gelu":
        return lambda x: keras.activations.gelu(x, approximate=False)
    if name == "gelu_approximate":
        return lambda x: keras.activations.gelu(x, approximate=True)
    if name == "relu":
        return keras.activations.relu
    if name == "tanh":
        return keras.activations.tanh
    raise ConfigError(f"unknown hidden_activation {name!r}")


def from_hf_name(hidden_act: str) -> str:
    """Maps a Hugging Face `hidden_act` to our config name."""
    if hidden_act not in _HF_NAMES:
        raise ConfigError(f"hidden_act={hidden_act!r} is not supported; known: {sorted(_HF_NAMES)}")
    return _HF_NAMES[hidden_act]
