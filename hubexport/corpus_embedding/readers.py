"""Reads one input file into `Document`s and `BadRecord`s, in file order, one per record.

Formats (`--input_format`):
- text: one document per line (`\\n`, an optional `\\r` before it is dropped); compressed files
  (.gz, .bz2, ...) are read by their extension;
- jsonl: one JSON object per line, the text in `text_fields`, the id (optional) in `id_field`;
- parquet: those fields as columns (string or UTF-8 binary text; string, binary or integer ids);
- tfrecord: serialized tf.train.Example records with those features (bytes_list texts; bytes_list
  or int64_list ids), GZIP-compressed when the file name ends in .gz.

Text, JSON lines and Parquet files are opened with Beam's FileSystems, TFRecord files with
TensorFlow's (which checks their CRCs), so a path is anything those read (local, gs://, ...).
Data that cannot be read past (a corrupt TFRecord or Parquet file) ends its file with one bad
record at the first position not read.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from google.protobuf.message import DecodeError

from hubexport.corpus_embedding.records import (
    INVALID_RECORD,
    BadRecord,
    Document,
    UnusableText,
    decoded_text,
    describe_type,
    document_from_fields,
    document_from_line,
    record_source,
)

PARQUET_BATCH_ROWS = 4096
TF_OP_CONTEXT = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\].*$")  # around an op error's own message


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """How to read the input: `text_fields` name one field per signature input, in input-name
    order (unused for text files); `id_field` names the id field, or None for ids from the source."""

    pattern: str
    input_format: str
    text_fields: tuple[str, ...] = ()
    id_field: str | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field the records are read for, each once."""
        return tuple(dict.fromkeys((*self.text_fields, *([self.id_field] if self.id_field else []))))


Record = Document | BadRecord


def read_records(spec: InputSpec, path: str) -> Iterator[Record]:
    """The records of the file at `path`, read as `spec.input_format`."""
    return READERS[spec.input_format](spec, path)


def read_text(spec: InputSpec, path: str) -> Iterator[Record]:
    for position, line in _numbered_lines(path):
        yield document_from_line(line, record_source(path, position))


def read_jsonl(spec: InputSpec, path: str) -> Iterator[Record]:
    for position, line in _numbered_lines(path):
        source = record_source(path, position)
        yield _json_line_record(line, source, spec)


def _json_line_record(line: bytes, source: str, spec: InputSpec) -> Record:
    try:
        text = decoded_text(line, "the line")
    except UnusableText as error:
        return error.bad_record(source, source)
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as error:
        return BadRecord(source, source, INVALID_RECORD, f"the line is not JSON ({error.msg} at column {error.colno})")
    if not isinstance(fields, dict):
        return BadRecord(source, source, INVALID_RECORD, f"the line holds {describe_type(fields)}, not a JSON object")
    return document_from_fields(fields, source, spec.text_fields, spec.id_field)


def read_parquet(spec: InputSpec, path: str) -> Iterator[Record]:
    position = 0
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            parquet = pq.ParquetFile(handle)
            columns = [name for name in spec.fields if name in parquet.schema_arrow.names]
            if not columns:  # every record lacks every field: one bad record each
                for position in range(1, parquet.metadata.num_rows + 1):
                    yield document_from_fields({}, record_source(path, position), spec.text_fields, spec.id_field)
                return
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns):
                values = {name: _python_values(batch.column(name)) for name in columns}
                for row in range(batch.num_rows):
                    position += 1
                    fields = {name: column[row] for name, column in values.items()}
                    yield document_from_fields(fields, record_source(path, position), spec.text_fields, spec.id_field)
    except (pa.ArrowException, OSError) as error:  # pyarrow raises OSError for corrupt pages too
        yield _unreadable_rest(path, position, "Parquet", str(error))


def _python_values(column: pa.Array) -> list:
    """The column's values; strings as their bytes, so invalid UTF-8 becomes a bad record, not an error."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = column.cast(pa.binary() if pa.types.is_string(column.type) else pa.large_binary())
    return column.to_pylist()


def read_tfrecord(spec: InputSpec, path: str) -> Iterator[Record]:
    records = iter(tf.data.TFRecordDataset(path, compression_type="GZIP" if path.endswith(".gz") else ""))
    position = 0
    while True:
        try:
            serialized = next(records).numpy()
        except StopIteration:
            return
        except tf.errors.DataLossError as error:
            yield _unreadable_rest(path, position, "TFRecord", TF_OP_CONTEXT.sub("", error.message))
            return
        position += 1
        source = record_source(path, position)
        try:
            example = tf.train.Example.FromString(serialized)
        except DecodeError:
            yield BadRecord(source, source, INVALID_RECORD, "the record is not a serialized tf.train.Example")
            continue
        yield document_from_fields(_feature_values(example, spec.fields), source, spec.text_fields, spec.id_field)


def _feature_values(example: tf.train.Example, names: tuple[str, ...]) -> dict[str, object]:
    """Each named feature's value: its one value, a list when it has several, absent when it has none."""
    values = {}
    for name in names:
        if name not in example.features.feature:
            continue
        feature = example.features.feature[name]
        kind = feature.WhichOneof("kind")
        listed = list(getattr(feature, kind).value) if kind else []
        if len(listed) == 1:
            values[name] = listed[0]
        elif listed:
            values[name] = listed
    return values


def _unreadable_rest(path: str, records_read: int, file_format: str, error: str) -> BadRecord:
    """The bad record standing for the rest of a file that cannot be read past its first `records_read` records."""
    source = record_source(path, records_read + 1)
    return BadRecord(
        source,
        source,
        INVALID_RECORD,
        f"corrupt {file_format} data, the rest of the file is unreadable: {error.splitlines()[0]}",
    )


def _numbered_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its line break) for each line of the file."""
    with FileSystems.open(path) as handle:
        for position, line in enumerate(iter(handle.readline, b""), start=1):
            if line.endswith(b"\n"):
                line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
            yield position, line


READERS: dict[str, Callable[[InputSpec, str], Iterator[Record]]] = {
    "text": read_text,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "tfrecord": read_tfrecord,
}
