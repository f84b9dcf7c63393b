"""TF Serving conventions of the end-to-end export: versions, models.config, commands, warm-up."""

from __future__ import annotations

import json
import pathlib
import shlex

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from hubexport.errors import ConfigError, ExportDirError
from hubexport.preprocess.tokenizer_files import load_tokenizer
from hubexport.serving import layout
from hubexport.serving.end_to_end_export import export_end_to_end
from tests.fixtures.end_to_end import E2E_HIDDEN, E2E_SEQ_LENGTH


def test_versions_default_to_the_next_free_integer(tmp_path):
    assert layout.resolve_version_dir(tmp_path / "new", None) == (tmp_path / "new" / "1", 1)
    for name in ("1", "3", "notes", ".3.staging-x"):
        (tmp_path / "model" / name).mkdir(parents=True)
    assert layout.resolve_version_dir(tmp_path / "model", None) == (tmp_path / "model" / "4", 4)
    assert layout.resolve_version_dir(tmp_path / "model", 2) == (tmp_path / "model" / "2", 2)
    with pytest.raises(ConfigError, match="--serving_version"):
        layout.resolve_version_dir(tmp_path / "model", -1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportDirError, match="not a directory"):
        layout.resolve_version_dir(tmp_path / "file", None)


def test_a_directory_holding_a_savedmodel_itself_is_refused(tmp_path, end_to_end_case):
    with pytest.raises(ExportDirError, match="numbered subdirectory"):
        layout.resolve_version_dir(end_to_end_case("wordpiece").export.path, None)


@pytest.mark.parametrize("family", ["wordpiece", "roberta"])
def test_export_is_version_one_with_models_config_beside_it(family, end_to_end_case):
    export = end_to_end_case(family).export
    assert export.path == export.base_dir / "1" and export.version == 1
    assert sorted(p.name for p in export.base_dir.iterdir()) == ["1", "models.config", "serving_commands.txt"]
    config = text_format.Parse(
        (export.base_dir / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    (entry,) = config.model_config_list.config
    assert (entry.name, entry.base_path, entry.model_platform) == (
        export.model_name,
        str(export.base_dir),
        "tensorflow",
    )
    assert export.model_name == f"{family}_embedder"


def test_serving_commands_point_at_the_export_and_its_requests_run(end_to_end_case, loaded_end_to_end):
    export, loaded = end_to_end_case("wordpiece").export, loaded_end_to_end("wordpiece")
    written = (export.base_dir / "serving_commands.txt").read_text()
    assert written == export.serving_instructions
    commands = [shlex.split(line) for line in written.splitlines() if line and not line.startswith("#")]
    server, docker, *requests = commands
    assert server[0] == "tensorflow_model_server"
    assert f"--model_config_file={export.base_dir / 'models.config'}" in server
    assert docker[:2] == ["docker", "run"] and "tensorflow/serving" in docker
    assert f"type=bind,source={export.base_dir},target=/models/{export.model_name}" in docker
    assert f"MODEL_NAME={export.model_name}" in docker
    assert "FastWordpieceTokenizeWithOffsets" in written
    signatures = set()
    for request in requests:
        assert request[:4] == ["curl", "-s", "-X", "POST"]
        assert request[4] == f"http://localhost:8501/v1/models/{export.model_name}:predict"
        body = json.loads(request[request.index("-d") + 1])
        signature = loaded.signatures[body["signature_name"]]
        outputs = signature(**{key: tf.constant(values) for key, values in body["inputs"].items()})
        assert outputs["embedding"].shape == (len(layout.EXAMPLE_TEXTS), E2E_HIDDEN)
        signatures.add(body["signature_name"])
    assert signatures == {"serving_default", "serving_pair"}


def parse_warmup_file(path: pathlib.Path) -> list[prediction_log_pb2.PredictionLog]:
    return [
        prediction_log_pb2.PredictionLog.FromString(record)
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator()
    ]


@pytest.mark.parametrize("family", ["wordpiece", "roberta"])
def test_warmup_requests_parse_and_run_through_their_signatures(family, end_to_end_case, loaded_end_to_end):
    export, loaded = end_to_end_case(family).export, loaded_end_to_end(family)
    logs = parse_warmup_file(export.path / "assets.extra" / "tf_serving_warmup_requests")
    assert 0 < len(logs) <= 1000  # TF Serving reads at most 1000 warm-up records
    covered = set()
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == export.model_name
        signature = loaded.signatures[request.model_spec.signature_name]
        _, expected_inputs = signature.structured_input_signature
        assert set(request.inputs) == set(expected_inputs)
        inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
        outputs = signature(**inputs)
        batch = len(next(iter(inputs.values())).numpy())
        assert outputs["sequence_output"].shape == (batch, E2E_SEQ_LENGTH, E2E_HIDDEN)
        if request.model_spec.signature_name == "serving_default":
            reference = loaded(inputs["text"])
        else:
            reference = loaded.serve_pair(inputs)
        np.testing.assert_array_equal(outputs["embedding"].numpy(), reference["embedding"].numpy())
        covered.add(request.model_spec.signature_name)
    assert covered == {"serving_default", "serving_pair"}


def test_an_existing_version_is_refused_before_any_work(end_to_end_case, minilm_tokenizer_dir, tmp_path):
    case = end_to_end_case("wordpiece")
    before = (case.export.path / "saved_model.pb").read_bytes()
    with pytest.raises(ExportDirError, match="already exists"):
        export_end_to_end(case.model, load_tokenizer(minilm_tokenizer_dir), case.export.base_dir, serving_version=1)
    assert (case.export.path / "saved_model.pb").read_bytes() == before
    assert sorted(p.name for p in case.export.base_dir.iterdir()) == ["1", "models.config", "serving_commands.txt"]
