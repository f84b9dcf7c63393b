"""Reads one sentence-transformers `Dense` module directory: `config.json` and its weights.

`SentenceTransformer.encode` computes `activation(x @ linear.weight.T + linear.bias)` on the sentence
embedding. The weights are `linear.weight` [out, in] and `linear.bias` [out] in `model.safetensors` or
`pytorch_model.bin`; the activation is named by its class path (`torch.nn.modules.activation.Tanh`,
`torch.nn.modules.linear.Identity`, ...), Tanh when the config names none, as sentence-transformers loads it.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from hubexport import user_files
from hubexport.checkpoints.hf_weights import open_hf_weights
from hubexport.errors import CheckpointError, ConfigError

CONFIG_FILE = "config.json"
WHAT = "sentence-transformers Dense config"
# sentence-transformers' class path of each activation -> the name the exported graph uses.
ACTIVATIONS = {
    "torch.nn.modules.linear.Identity": "identity",
    "torch.nn.modules.activation.Tanh": "tanh",
    "torch.nn.modules.activation.ReLU": "relu",
    "torch.nn.modules.activation.Sigmoid": "sigmoid",
    "torch.nn.modules.activation.GELU": "gelu",
    "torch.nn.modules.activation.SiLU": "silu",
}
DEFAULT_ACTIVATION = "torch.nn.modules.activation.Tanh"
SENTENCE_EMBEDDING = "sentence_embedding"


@dataclasses.dataclass(frozen=True, eq=False)
class DenseModule:
    """A Dense module's weights: `kernel` float32 [in_features, out_features], `bias` [out_features] or None,
    and its `activation` (a value of ACTIVATIONS; `activation_function` is the class path it came from)."""

    path: str
    kernel: np.ndarray
    bias: np.ndarray | None
    activation: str
    activation_function: str

    def describe(self) -> dict[str, object]:
        """The facts the export metadata records."""
        return {
            "path": self.path,
            "in_features": int(self.kernel.shape[0]),
            "out_features": int(self.kernel.shape[1]),
            "bias": self.bias is not None,
            "activation_function": self.activation_function,
        }


def read_dense_module(model_dir: pathlib.Path, module_path: str) -> DenseModule:
    """The Dense module at `model_dir/module_path`; ConfigError for a config hubexport cannot reproduce,
    CheckpointError for missing or mis-shaped weights."""
    directory = model_dir / module_path
    config_path = directory / CONFIG_FILE
    config = user_files.read_json(config_path, error=ConfigError, what=WHAT)

    def value(key: str, kinds: tuple[type, ...], default: object) -> object:
        return user_files.json_value(
            config.get(key, default), kinds, key=key, path=config_path, error=ConfigError, what=WHAT
        )

    in_features = value("in_features", (int,), None)
    out_features = value("out_features", (int,), None)
    has_bias = value("bias", (bool,), True)
    activation_function = value("activation_function", (str,), DEFAULT_ACTIVATION)
    for key in ("module_input_name", "module_output_name"):
        if value(key, (str,), SENTENCE_EMBEDDING) != SENTENCE_EMBEDDING:
            raise ConfigError(
                f"{config_path}: Dense module {module_path!r} has {key} {config[key]!r}; hubexport "
                f"exports Dense modules on {SENTENCE_EMBEDDING!r} only"
            )
    if activation_function not in ACTIVATIONS:
        raise ConfigError(
            f"{config_path}: Dense module {module_path!r} has activation_function "
            f"{activation_function!r}; hubexport exports {', '.join(ACTIVATIONS)}"
        )
    weights = open_hf_weights(directory)
    expected = {"linear.weight": (out_features, in_features)}
    if has_bias:
        expected["linear.bias"] = (out_features,)
    if weights.names() != set(expected):
        raise CheckpointError(
            f"Dense module weights in {weights.description} are {sorted(weights.names())}, expected {sorted(expected)}"
        )
    for name, shape in expected.items():
        if weights.shape(name) != shape:
            raise CheckpointError(
                f"tensor {name!r} in {weights.description} has shape {weights.shape(name)}, "
                f"expected {shape} (in_features {in_features}, out_features {out_features})"
            )
    bias = weights.read("linear.bias") if has_bias else None
    return DenseModule(
        module_path,
        np.ascontiguousarray(weights.read("linear.weight").T),
        bias,
        ACTIVATIONS[activation_function],
        activation_function,
    )
