"""TF Serving's layout: a model base directory with one SavedModel per integer version.

TF Serving watches a base directory `DIR` and serves its highest numbered subdirectory `DIR/N/`.
Beside the versions this module writes `models.config` (a ModelServerConfig text proto with one
entry for the model, for `--model_config_file`) and `serving_commands.txt` (the
`tensorflow_model_server` and `docker run tensorflow/serving` command lines, REST requests, and
the tf.text ops the server must have), and returns that text for printing.
"""

from __future__ import annotations

import json
import pathlib
import re
import shlex

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from hubexport.errors import ConfigError, ExportDirError

MODELS_CONFIG = "models.config"
COMMANDS_FILE = "serving_commands.txt"
GRPC_PORT = 8500
REST_PORT = 8501
DOCKER_IMAGE = "tensorflow/serving"
EXAMPLE_TEXTS = ("The quick brown fox.", "A second text.")


def existing_versions(base_dir: pathlib.Path) -> list[int]:
    """The integer-named subdirectories of `base_dir`, ascending."""
    if not base_dir.is_dir():
        return []
    return sorted(int(path.name) for path in base_dir.iterdir() if path.is_dir() and path.name.isdigit())


def resolve_version_dir(export_dir: str | pathlib.Path, serving_version: int | None) -> tuple[pathlib.Path, int]:
    """`(DIR/N, N)` for `--export_dir DIR`: N is `serving_version`, else the next free version."""
    base_dir = pathlib.Path(export_dir).absolute()
    if base_dir.exists() and not base_dir.is_dir():
        raise ExportDirError(f"--export_dir {base_dir} exists and is not a directory")
    if (base_dir / "saved_model.pb").exists():
        raise ExportDirError(
            f"--export_dir {base_dir} holds a SavedModel itself; TF Serving expects one "
            "SavedModel per numbered subdirectory (DIR/1, DIR/2, ...): pass a new directory"
        )
    if serving_version is None:
        version = max(existing_versions(base_dir), default=0) + 1
    elif serving_version < 0:
        raise ConfigError(f"--serving_version must be a non-negative integer, got {serving_version}")
    else:
        version = serving_version
    return base_dir / str(version), version


def model_name(base_dir: pathlib.Path) -> str:
    """The served model's name: the base directory's name, restricted to URL-safe characters."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base_dir.name).strip(".") or "model"


def models_config(name: str, base_dir: pathlib.Path) -> str:
    """A ModelServerConfig text proto serving the latest version under `base_dir` as `name`."""
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(name=name, base_path=str(base_dir), model_platform="tensorflow")
    return text_format.MessageToString(config)


def rest_requests(name: str, signatures: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Signature name -> a `curl` line posting a REST :predict request (columnar inputs) for it."""
    url = f"http://localhost:{REST_PORT}/v1/models/{name}:predict"
    requests = {}
    for signature, input_names in signatures.items():
        inputs = {key: list(EXAMPLE_TEXTS[i:] + EXAMPLE_TEXTS[:i]) for i, key in enumerate(input_names)}
        body = json.dumps({"signature_name": signature, "inputs": inputs})
        requests[signature] = f"curl -s -X POST {url} -d {shlex.quote(body)}"
    return requests


def command_lines(name: str, base_dir: pathlib.Path) -> dict[str, str]:
    """How to start a server for the model: with the config file, or in Docker."""
    return {
        "tensorflow_model_server": (
            f"tensorflow_model_server --port={GRPC_PORT} --rest_api_port={REST_PORT} "
            f"--model_config_file={shlex.quote(str(base_dir / MODELS_CONFIG))}"
        ),
        "docker": (
            f"docker run --rm -p {GRPC_PORT}:{GRPC_PORT} -p {REST_PORT}:{REST_PORT} "
            f"--mount type=bind,source={shlex.quote(str(base_dir))},target=/models/{name} "
            f"-e MODEL_NAME={name} -t {DOCKER_IMAGE}"
        ),
    }


def card_facts(
    name: str,
    base_dir: pathlib.Path,
    version: int,
    signatures: dict[str, tuple[str, ...]],
    outputs: tuple[str, ...],
) -> dict[str, object]:
    """What a model card's TensorFlow Serving section states: where the version lives, the files
    beside it, how to start a server, one REST request per signature and the signatures' `outputs`
    (`text_ops` is added once the SavedModel is written)."""
    return {
        "model_name": name,
        "base_dir": str(base_dir),
        "version": version,
        "signatures": signatures,
        "outputs": list(outputs),
        "models_config": MODELS_CONFIG,
        "commands_file": COMMANDS_FILE,
        "commands": command_lines(name, base_dir),
        "rest_requests": rest_requests(name, signatures),
        "example_body": {"signature_name": "serving_default", "inputs": {"text": list(EXAMPLE_TEXTS)}},
    }


def serving_instructions(
    name: str, base_dir: pathlib.Path, version: int, signatures: dict[str, tuple[str, ...]], text_ops: list[str]
) -> str:
    """The text of serving_commands.txt: commands, requests and the custom ops to provide."""
    commands = command_lines(name, base_dir)
    return "\n".join(
        [
            f"# Serving {name} (version {version} of {base_dir}) with TensorFlow Serving",
            f"# models.config entry: {base_dir / MODELS_CONFIG}",
            "# Start a model server (warm-up requests in assets.extra are replayed on load):",
            commands["tensorflow_model_server"],
            "# or in Docker:",
            commands["docker"],
            "# The graph tokenizes in TensorFlow with tf.text ops; the server must have them built in",
            f"# (else it fails with 'Op type not registered'): {', '.join(text_ops) or 'none'}",
            "# REST :predict requests, one per signature:",
            *rest_requests(name, signatures).values(),
            "",
        ]
    )


def write_serving_files(
    base_dir: pathlib.Path, version: int, signatures: dict[str, tuple[str, ...]], text_ops: list[str]
) -> str:
    """Writes models.config and serving_commands.txt into `base_dir`; returns the commands text.

    `signatures` maps each serving signature to its string input names; `text_ops` are the tf.text
    op types the graph uses.
    """
    name = model_name(base_dir)
    (base_dir / MODELS_CONFIG).write_text(models_config(name, base_dir))
    instructions = serving_instructions(name, base_dir, version, signatures, text_ops)
    (base_dir / COMMANDS_FILE).write_text(instructions)
    return instructions
