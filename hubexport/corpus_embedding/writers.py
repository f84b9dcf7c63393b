"""Writes the embedded documents (`--output`, `--output_format`) and the bad records (`--errors_output`).

Each embedded document is one row: `id`, then each requested output of the signature under its
own name, then (with `--keep_text`) the texts under the signature's input names. Files are
sharded as Beam's file sinks name them: `<prefix>-SSSSS-of-NNNNN.<format>`.

- parquet: `id` string; float32 outputs as list<float32> ([H]) or list<list<float32>>
  ([seq, H]); int32 outputs likewise; texts as strings. The file's key-value metadata holds
  `hubexport.model_name`, `hubexport.model_version`, `hubexport.model_path`,
  `hubexport.signature` and `hubexport.embedding_dimension`.
- jsonl: one JSON object per line with the same keys, outputs as (nested) lists of numbers, each
  float32 in the shortest form that reads back as exactly that value.
- tfrecord: one tf.train.Example per row: `id` and texts as bytes_list, float outputs as
  float_list and integer outputs as int64_list, flattened row-major. Written with TensorFlow's
  TFRecord writer (Beam's needs a CRC32C package that neither TensorFlow nor Beam's core brings).

Bad records go to JSON lines files with `id`, `source`, `kind` and `reason`.
"""

from __future__ import annotations

import dataclasses
import json

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
from apache_beam.coders import coders
from apache_beam.io import filebasedsink
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.ml.inference.base import PredictionResult

from hubexport.corpus_embedding.exported_model import OutputTensor
from hubexport.corpus_embedding.records import BadRecord

ID_COLUMN = "id"
ARROW_TYPES = {"float32": pa.float32(), "float64": pa.float64(), "int32": pa.int32(), "int64": pa.int64()}

Row = dict[str, object]


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """Where and how to write: `outputs` are the signature outputs to write, in column order;
    `text_columns` the signature's input names when the texts are kept (else empty); `metadata`
    the Parquet file's key-value metadata."""

    prefix: str
    output_format: str
    outputs: dict[str, OutputTensor]
    text_columns: tuple[str, ...] = ()
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def file_suffix(self) -> str:
        return f".{self.output_format}"


def output_row(result: PredictionResult, text_columns: tuple[str, ...]) -> Row:
    """The row of one embedded document: its id, its outputs (numpy arrays) and its kept texts."""
    document = result.example
    return {ID_COLUMN: document.id, **result.inference, **dict(zip(text_columns, document.texts))}


def parquet_schema(spec: OutputSpec) -> pa.Schema:
    fields = [pa.field(ID_COLUMN, pa.string(), nullable=False)]
    for name, tensor in spec.outputs.items():
        arrow_type = ARROW_TYPES[tensor.dtype]
        for _ in tensor.shape:
            arrow_type = pa.list_(arrow_type)
        fields.append(pa.field(name, arrow_type, nullable=False))
    fields += [pa.field(name, pa.string(), nullable=False) for name in spec.text_columns]
    return pa.schema(fields, metadata=spec.metadata)


def parquet_row(row: Row) -> Row:
    """`row` with each output of rank 2 or more as a list of arrays, the form pyarrow takes for nested lists."""
    return {
        key: list(value) if isinstance(value, np.ndarray) and value.ndim > 1 else value for key, value in row.items()
    }


def json_line(row: Row) -> str:
    return json.dumps(
        {key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in row.items()},
        ensure_ascii=False,
    )


def serialized_example(row: Row) -> bytes:
    features = {}
    for key, value in row.items():
        if isinstance(value, str):
            features[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))
        elif np.issubdtype(value.dtype, np.floating):
            features[key] = tf.train.Feature(float_list=tf.train.FloatList(value=value.ravel()))
        else:
            features[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=value.ravel()))
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def bad_record_line(record: BadRecord) -> str:
    return json.dumps(record.to_json_dict(), ensure_ascii=False)


class TensorFlowRecordSink(filebasedsink.FileBasedSink):
    """Beam's sharded file sink, writing each shard with TensorFlow's TFRecordWriter."""

    def __init__(self, file_path_prefix: str, file_name_suffix: str):
        super().__init__(
            file_path_prefix,
            coder=coders.BytesCoder(),
            file_name_suffix=file_name_suffix,
            compression_type=CompressionTypes.UNCOMPRESSED,
        )

    def open(self, temp_path: str) -> tf.io.TFRecordWriter:
        return tf.io.TFRecordWriter(temp_path)

    def write_encoded_record(self, file_handle: tf.io.TFRecordWriter, encoded_value: bytes) -> None:
        file_handle.write(encoded_value)

    def close(self, file_handle: tf.io.TFRecordWriter) -> None:
        file_handle.close()


class WriteRows(beam.PTransform):
    """Writes rows of `output_row` as `spec` says."""

    def __init__(self, spec: OutputSpec):
        super().__init__()
        self._spec = spec

    def expand(self, rows: beam.PCollection) -> beam.pvalue.PDone:
        spec = self._spec
        if spec.output_format == "parquet":
            return (
                rows
                | "ParquetRows" >> beam.Map(parquet_row)
                | beam.io.WriteToParquet(spec.prefix, parquet_schema(spec), file_name_suffix=spec.file_suffix)
            )
        if spec.output_format == "jsonl":
            return (
                rows
                | "JsonLines" >> beam.Map(json_line)
                | beam.io.WriteToText(spec.prefix, file_name_suffix=spec.file_suffix)
            )
        return (
            rows
            | "Examples" >> beam.Map(serialized_example)
            | beam.io.Write(TensorFlowRecordSink(spec.prefix, spec.file_suffix))
        )


class WriteBadRecords(beam.PTransform):
    """Writes BadRecords as JSON lines to `<prefix>-SSSSS-of-NNNNN.jsonl` (one empty shard when there are none)."""

    def __init__(self, prefix: str):
        super().__init__()
        self._prefix = prefix

    def expand(self, records: beam.PCollection) -> beam.pvalue.PDone:
        return records | beam.Map(bad_record_line) | beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl")
