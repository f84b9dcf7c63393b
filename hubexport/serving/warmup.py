"""TF Serving warm-up requests: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays the `PredictionLog` records of this TFRecord file when it loads a version,
before the version takes traffic, so the first real request does not pay for graph
optimization and table initialization. A failing warm-up request makes the load fail, so the
export probe replays them too. Requests cover every signature with a batch of one and a batch of
texts of different lengths (including an empty one).
"""

from __future__ import annotations

import pathlib

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_BATCHES = (
    ("Warm-up request for the serving model.",),
    ("A longer warm-up sentence, with punctuation and digits 12,345.", "", "Ünïcödé text and 中文 characters."),
)


def warmup_path(export_dir: pathlib.Path) -> pathlib.Path:
    """Where TF Serving looks for the warm-up file of a SavedModel."""
    return export_dir / "assets.extra" / WARMUP_FILE


def warmup_requests(model_name: str, signatures: dict[str, tuple[str, ...]]) -> list[prediction_log_pb2.PredictionLog]:
    """One PredictRequest per signature and batch; every string input of a signature gets the batch
    (rotated by the input's position, so pair inputs differ)."""
    logs = []
    for signature, input_names in signatures.items():
        for batch in WARMUP_BATCHES:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature
            for position, name in enumerate(input_names):
                texts = batch[position % len(batch) :] + batch[: position % len(batch)]
                request.inputs[name].CopyFrom(tf.make_tensor_proto(list(texts), dtype=tf.string))
            logs.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write_warmup_requests(
    export_dir: pathlib.Path, model_name: str, signatures: dict[str, tuple[str, ...]]
) -> pathlib.Path:
    """Writes the warm-up TFRecord for `signatures` (signature name -> string input names)."""
    path = warmup_path(export_dir)
    path.parent.mkdir(exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in warmup_requests(model_name, signatures):
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(export_dir: pathlib.Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The warm-up file's requests as (signature name, inputs as numpy arrays)."""
    requests = []
    for record in tf.data.TFRecordDataset(str(warmup_path(export_dir))).as_numpy_iterator():
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        requests.append((request.model_spec.signature_name, inputs))
    return requests
