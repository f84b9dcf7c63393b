"""hubexport-embed: a corpus through an end-to-end export on Beam's local runner.

Every input format runs in this process (`direct_running_mode=in_memory`) and in two fresh worker
processes (`multi_processing`, which is what catches a worker that lacks the tf.text ops), most
through `embed_corpus`, text and TFRecord input through the command line. Each run is checked
against the inputs: every good record exactly once with its id, every bad record in the dead
letters with its reason, and each output equal (max abs difference 0) to the loaded SavedModel
called directly. That reference is the model on all documents in one batch; `reference_outputs`
first checks it equals the model on one document at a time, so the comparison holds whatever
batches the pipeline formed.
"""

from __future__ import annotations

import glob
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from hubexport.corpus_embedding.pipeline import EmbedResult, embed_corpus, failed_batch_records
from hubexport.corpus_embedding.plan import plan_embedding
from hubexport.corpus_embedding.records import Document
from hubexport.errors import ConfigError
from tests.support import corpus

IN_PROCESS = ["--direct_running_mode=in_memory"]
WORKER_PROCESSES = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
MODES = {"in_process": IN_PROCESS, "worker_processes": WORKER_PROCESSES}


@pytest.fixture(scope="module")
def export(end_to_end_case):
    return end_to_end_case("wordpiece").export


@pytest.fixture(scope="module")
def model(loaded_end_to_end):
    return loaded_end_to_end("wordpiece")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real lines and the generated hard cases (without the blank ones), 51 in all."""
    hard = [line for line in corpus.hard_case_lines() if line.strip()]
    return corpus.license_lines()[:12] + corpus.cjk_lines()[:8] + hard


def reference_outputs(
    model, signature: str, columns: dict[str, list[str]], outputs=("embedding",)
) -> dict[str, np.ndarray]:
    """The signature's `outputs` on `columns` (input name -> texts) in one batch, after checking the
    batch gives each row exactly what the row alone gives."""
    function = model.signatures[signature]
    batch = function(**{name: tf.constant(texts) for name, texts in columns.items()})
    rows = len(next(iter(columns.values())))
    for row in range(rows):
        alone = function(**{name: tf.constant(texts[row : row + 1]) for name, texts in columns.items()})
        for name in outputs:
            assert np.array_equal(alone[name].numpy()[0], batch[name].numpy()[row]), (
                "the model's outputs depend on the batch: compare with the pipeline's own batches instead"
            )
    return {name: batch[name].numpy() for name in outputs}


def json_lines(path: str) -> list[dict]:
    """The objects of a JSON lines file (split at \n only: texts may hold other line separators)."""
    return [json.loads(line) for line in pathlib.Path(path).read_text(encoding="utf-8").split("\n") if line]


def with_arrays(row: dict[str, object]) -> dict[str, object]:
    return {key: np.array(value, np.float32) if isinstance(value, list) else value for key, value in row.items()}


def read_rows(prefix: pathlib.Path, output_format: str) -> list[dict[str, object]]:
    """Every row of the output files, as dicts of numpy arrays (outputs) and str (id, texts)."""
    paths = sorted(glob.glob(f"{prefix}-*-of-*.{output_format}"))
    assert paths, f"no {output_format} files at {prefix}"
    rows = []
    for path in paths:
        if output_format == "parquet":
            rows += [with_arrays(row) for row in pq.read_table(path).to_pylist()]
        elif output_format == "jsonl":
            rows += [with_arrays(row) for row in json_lines(path)]
        else:
            for record in tf.data.TFRecordDataset(path):
                features = tf.train.Example.FromString(record.numpy()).features.feature
                rows.append(
                    {
                        key: feature.bytes_list.value[0].decode()
                        if feature.HasField("bytes_list")
                        else np.array(feature.float_list.value, np.float32)
                        for key, feature in features.items()
                    }
                )
    return rows


def read_bad_records(prefix: pathlib.Path) -> dict[str, dict[str, str]]:
    """The dead letters by source (each source exactly once)."""
    records = [record for path in sorted(glob.glob(f"{prefix}-*.jsonl")) for record in json_lines(path)]
    by_source = {record["source"]: record for record in records}
    assert len(by_source) == len(records), "a bad record was written twice"
    return by_source


def check_rows(rows: list[dict[str, object]], expected_ids: list[str], expected: dict[str, np.ndarray]) -> None:
    """Each expected id exactly once, with each output exactly the reference (rows of `expected` in id order)."""
    ids = [row["id"] for row in rows]
    assert sorted(ids) == sorted(expected_ids)
    by_id = {row["id"]: row for row in rows}
    for name, reference in expected.items():
        got = np.stack([by_id[document_id][name] for document_id in expected_ids])
        assert got.dtype == reference.dtype and got.shape == reference.shape
        assert np.max(np.abs(got - reference)) == 0, f"{name} differs from the model called directly"


def check_bad_records(
    prefix: pathlib.Path, expected: dict[str, tuple[str, str, str]], result: EmbedResult | None
) -> None:
    """`expected`: source -> (id, kind, a phrase of the reason); and the counters agree with them."""
    bad = read_bad_records(prefix)
    assert sorted(bad) == sorted(expected)
    for source, (document_id, kind, phrase) in expected.items():
        assert (bad[source]["id"], bad[source]["kind"]) == (document_id, kind), bad[source]
        assert phrase in bad[source]["reason"] and "\n" not in bad[source]["reason"], bad[source]
    if result is not None:
        kinds = [kind for _, kind, _ in expected.values()]
        assert result.bad_records == {kind: kinds.count(kind) for kind in set(kinds)}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hubexport.embed_main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def text_corpus(tmp_path: pathlib.Path, texts: list[str]) -> tuple[pathlib.Path, dict[str, str], dict]:
    """A text file of `texts`, two repeated lines, a CRLF line and three bad lines; returns it, the
    good lines by id and the bad ones by source."""
    bad_lines = {
        b"": ("empty_document", "the line is empty"),
        b"  \t ": ("empty_document", "only whitespace"),
        b"caf\xe9 in Latin-1": ("invalid_utf8", "not valid UTF-8"),
    }
    lines = [text.encode() for text in texts] + [
        texts[0].encode(),
        b"",
        b"windows line\r",
        texts[1].encode(),
        b"  \t ",
        b"caf\xe9 in Latin-1",
    ]
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    good = {f"{path}:{n}": line.decode().removesuffix("\r") for n, line in enumerate(lines, 1) if line not in bad_lines}
    bad = {f"{path}:{n}": (f"{path}:{n}", *bad_lines[line]) for n, line in enumerate(lines, 1) if line in bad_lines}
    return path, good, bad


def test_text_lines_library_in_process(tmp_path, export, model, texts):
    path, good, bad = text_corpus(tmp_path, texts)
    result = embed_corpus(
        model_dir=str(export.base_dir),
        input=str(path),
        output=str(tmp_path / "out" / "emb"),
        keep_text=True,
        batch_size=8,
        pipeline_args=IN_PROCESS,
    )

    rows = read_rows(tmp_path / "out" / "emb", "parquet")
    ids = list(good)
    check_rows(rows, ids, reference_outputs(model, "serving_default", {"text": list(good.values())}))
    assert {row["id"]: row["text"] for row in rows} == good
    repeated = [document_id for document_id, text in good.items() if text == texts[0]]
    assert len(repeated) == 2 and len(set(repeated)) == 2, "a repeated line keeps its own id"
    check_bad_records(tmp_path / "out" / "emb_errors", bad, result)
    assert (result.records_read, result.embedded) == (len(good) + len(bad), len(good))

    schema = pq.read_schema(glob.glob(str(tmp_path / "out" / "emb-*.parquet"))[0])
    assert schema.field("embedding").type == pa.list_(pa.float32())
    assert schema.metadata[b"hubexport.model_name"] == export.model_name.encode()
    assert schema.metadata[b"hubexport.model_version"] == b"1"
    assert schema.metadata[b"hubexport.embedding_dimension"] == b"32"


def test_text_lines_command_line_in_worker_processes(tmp_path, export, model, texts):
    path, good, bad = text_corpus(tmp_path, texts)
    result = run_cli(
        f"--model_dir={export.path}",
        f"--input={path}",
        f"--output={tmp_path / 'emb'}",
        "--output_format=jsonl",
        "--batch_size=5",
        *WORKER_PROCESSES,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout.startswith(f"embedded {len(good)} of {len(good) + len(bad)} records")

    check_rows(
        read_rows(tmp_path / "emb", "jsonl"),
        list(good),
        reference_outputs(model, "serving_default", {"text": list(good.values())}),
    )
    check_bad_records(tmp_path / "emb_errors", bad, None)


@pytest.mark.parametrize("mode", MODES)
def test_jsonl_records(tmp_path, export, model, texts, mode):
    records = [json.dumps({"doc_id": f"doc-{n}", "body": text}) for n, text in enumerate(texts[:20])]
    records += [json.dumps({"doc_id": 42, "body": texts[20]}), json.dumps({"doc_id": "same text", "body": texts[0]})]
    bad_lines = [
        (json.dumps({"doc_id": "no-body"}), "no-body", "missing_field", "field 'body' is missing"),
        (json.dumps({"doc_id": "null-body", "body": None}), "null-body", "missing_field", "'body' is missing"),
        (json.dumps({"doc_id": "number", "body": 7}), "number", "non_string_field", "is a number"),
        (json.dumps({"doc_id": "list", "body": ["a"]}), "list", "non_string_field", "is a list"),
        (json.dumps({"doc_id": "blank", "body": " "}), "blank", "empty_document", "only whitespace"),
        (json.dumps({"body": "no id"}), None, "missing_field", "id field 'doc_id' is missing"),
        (json.dumps({"doc_id": 1.5, "body": "x"}), None, "non_string_field", "id field 'doc_id' is a number"),
        ("{not json", None, "invalid_record", "not JSON"),
        ("[1, 2]", None, "invalid_record", "not a JSON object"),
        ("", None, "empty_document", "the line is empty"),
    ]
    path = tmp_path / "corpus.jsonl"
    lines = [line.encode() for line in records] + [line.encode() for line, *_ in bad_lines] + [b'{"body": "\xff"}']
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = embed_corpus(
        model_dir=str(export.path),
        input=str(path),
        input_format="jsonl",
        text_field=["body"],
        id_field="doc_id",
        output=str(tmp_path / "emb"),
        output_format="jsonl",
        pipeline_args=MODES[mode],
    )

    ids = [f"doc-{n}" for n in range(20)] + ["42", "same text"]
    check_rows(
        read_rows(tmp_path / "emb", "jsonl"),
        ids,
        reference_outputs(model, "serving_default", {"text": texts[:21] + texts[:1]}),
    )
    bad = {
        f"{path}:{n}": (document_id or f"{path}:{n}", kind, phrase)
        for n, (_, document_id, kind, phrase) in enumerate(bad_lines, len(records) + 1)
    }
    bad[f"{path}:{len(lines)}"] = (f"{path}:{len(lines)}", "invalid_utf8", "the line is not valid UTF-8")
    check_bad_records(tmp_path / "emb_errors", bad, result)


@pytest.mark.parametrize("mode", MODES)
def test_parquet_files(tmp_path, export, model, texts, mode):
    directory = tmp_path / "corpus"
    directory.mkdir()
    pq.write_table(
        pa.table({"id": pa.array(range(30), pa.int64()), "text": texts[:28] + [None, ""]}), directory / "part-0.parquet"
    )
    pq.write_table(
        pa.table({"id": [100, 101], "text": pa.array([texts[28].encode(), b"\xffbad"], pa.binary())}),
        directory / "part-1.parquet",
    )
    pq.write_table(pa.table({"id": [200], "text": [5]}), directory / "part-2.parquet")
    (directory / "part-3.parquet").write_bytes(b"not Parquet at all")
    result = embed_corpus(
        model_dir=str(export.base_dir),
        input=str(directory / "part-*.parquet"),
        input_format="parquet",
        id_field="id",
        output=str(tmp_path / "emb"),
        output_format="tfrecord",
        errors_output=str(tmp_path / "dead" / "letters"),
        pipeline_args=MODES[mode],
    )

    ids = [str(n) for n in range(28)] + ["100"]
    check_rows(
        read_rows(tmp_path / "emb", "tfrecord"), ids, reference_outputs(model, "serving_default", {"text": texts[:29]})
    )
    part = {n: str(directory / f"part-{n}.parquet") for n in range(4)}
    check_bad_records(
        tmp_path / "dead" / "letters",
        {
            f"{part[0]}:29": ("28", "missing_field", "field 'text' is missing"),
            f"{part[0]}:30": ("29", "empty_document", "field 'text' is empty"),
            f"{part[1]}:2": ("101", "invalid_utf8", "field 'text' is not valid UTF-8"),
            f"{part[2]}:1": ("200", "non_string_field", "field 'text' is a number"),
            f"{part[3]}:1": (f"{part[3]}:1", "invalid_record", "corrupt Parquet data"),
        },
        result,
    )


def tfrecord_corpus(path: pathlib.Path, texts: list[str]) -> dict[str, tuple[str, str, str]]:
    """Examples of `texts` (feature `text`), five bad records and a corrupt tail; returns the bad ones by source."""

    def example(**features: tf.train.Feature) -> bytes:
        return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()

    def strings(*values: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

    bad = [
        (example(title=strings(b"x")), "missing_field", "field 'text' is missing"),
        (example(text=tf.train.Feature(int64_list=tf.train.Int64List(value=[3]))), "non_string_field", "a number"),
        (example(text=strings(b"a", b"b")), "non_string_field", "is a list"),
        (example(text=strings(b"\xc3(")), "invalid_utf8", "not valid UTF-8"),
        (b"\xff\xff\xff\xff", "invalid_record", "not a serialized tf.train.Example"),
    ]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for text in texts:
            writer.write(example(text=strings(text.encode())))
        for record, *_ in bad:
            writer.write(record)
    with path.open("ab") as file:
        file.write(b"a torn last record")
    bad.append((None, "invalid_record", "corrupt TFRecord data, the rest of the file is unreadable: corrupted record"))
    return {f"{path}:{n}": (f"{path}:{n}", kind, phrase) for n, (_, kind, phrase) in enumerate(bad, len(texts) + 1)}


def test_tfrecord_examples_library_in_process(tmp_path, export, model, texts):
    path = tmp_path / "corpus.tfrecord"
    bad = tfrecord_corpus(path, texts)
    result = embed_corpus(
        model_dir=str(export.base_dir),
        input=str(path),
        input_format="tfrecord",
        output=str(tmp_path / "emb"),
        outputs=["embedding", "pooled_output"],
        pipeline_args=IN_PROCESS,
    )

    ids = [f"{path}:{n}" for n in range(1, len(texts) + 1)]
    check_rows(
        read_rows(tmp_path / "emb", "parquet"),
        ids,
        reference_outputs(model, "serving_default", {"text": texts}, ("embedding", "pooled_output")),
    )
    check_bad_records(tmp_path / "emb_errors", bad, result)


def test_tfrecord_examples_command_line_in_worker_processes(tmp_path, export, model, texts):
    path = tmp_path / "corpus.tfrecord"
    bad = tfrecord_corpus(path, texts)
    result = run_cli(
        f"--model_dir={export.base_dir}",
        f"--input={path}",
        "--input_format=tfrecord",
        f"--output={tmp_path / 'emb'}",
        *WORKER_PROCESSES,
    )
    assert result.returncode == 0, result.stderr

    ids = [f"{path}:{n}" for n in range(1, len(texts) + 1)]
    expected = reference_outputs(model, "serving_default", {"text": texts})
    check_rows(read_rows(tmp_path / "emb", "parquet"), ids, expected)
    check_bad_records(tmp_path / "emb_errors", bad, None)


def test_text_pairs_through_serving_pair(tmp_path, export, model, texts):
    path = tmp_path / "pairs.jsonl"
    pairs = list(zip(texts[:16], texts[16:32]))
    lines = [json.dumps({"question": a, "passage": b}) for a, b in pairs] + [json.dumps({"question": "only one"})]
    path.write_text("\n".join(lines) + "\n")
    result = embed_corpus(
        model_dir=str(export.base_dir),
        input=str(path),
        input_format="jsonl",
        signature="serving_pair",
        text_field=["question", "passage"],
        keep_text=True,
        output=str(tmp_path / "emb"),
        pipeline_args=IN_PROCESS,
    )

    rows = read_rows(tmp_path / "emb", "parquet")
    ids = [f"{path}:{n}" for n in range(1, len(pairs) + 1)]
    check_rows(rows, ids, reference_outputs(model, "serving_pair", {"text_a": texts[:16], "text_b": texts[16:32]}))
    assert {row["id"]: (row["text_a"], row["text_b"]) for row in rows} == dict(zip(ids, pairs))
    source = f"{path}:{len(lines)}"
    check_bad_records(tmp_path / "emb_errors", {source: (source, "missing_field", "'passage' is missing")}, result)


def test_a_batch_the_model_raises_on_becomes_bad_records():
    batch = [Document("a", "f:1", ("x",)), Document("b", "f:2", ("y",))]
    records = list(failed_batch_records((batch, (ValueError, "ValueError('boom\\n  at op')", ["trace"]))))
    assert [(record.id, record.source, record.kind) for record in records] == [
        ("a", "f:1", "model_error"),
        ("b", "f:2", "model_error"),
    ]
    assert records[0].reason == "the model raised on the record's batch of 2: ValueError('boom\\n at op')"


@pytest.mark.parametrize(
    "options, named",
    [
        ({"input_format": "csv"}, "--input_format"),
        ({"output_format": "avro"}, "--output_format"),
        ({"batch_size": 0}, "--batch_size"),
        ({"model_copies": 0}, "--model_copies"),
        ({"outputs": ["embedding", "logits"]}, "'logits'"),
        ({"outputs": []}, "--outputs"),
        ({"signature": "serving_pair"}, "--input_format=text"),
        ({"signature": "no_such_signature"}, "'no_such_signature'"),
        ({"text_field": ["body"]}, "--text_field does not apply"),
        ({"input_format": "jsonl", "signature": "serving_pair", "text_field": ["a"]}, "must name 2"),
        ({"input": "{dir}/nothing-*.txt"}, "matches no files"),
        ({"model_dir": "{dir}"}, "holds no SavedModel"),
        ({"errors_output": "{dir}/emb"}, "--errors_output"),
        ({"pipeline_args": ["--no_such_option=1"]}, "unknown flag --no_such_option=1"),
        ({"pipeline_args": ["--direct_running_mode=everywhere"]}, "--direct_running_mode"),
    ],
)
def test_bad_options_raise_one_line_naming_the_flag(tmp_path, export, options, named):
    (tmp_path / "corpus.txt").write_text("one line\n")
    options = {key: value.format(dir=tmp_path) if isinstance(value, str) else value for key, value in options.items()}
    arguments = {
        "model_dir": str(export.base_dir),
        "input": str(tmp_path / "corpus.txt"),
        "output": str(tmp_path / "emb"),
        **options,
    }
    with pytest.raises(ConfigError) as raised:
        plan_embedding(**arguments)
    assert named in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "args, named",
    [
        (("--no_such_flag=1",), "--no_such_flag"),
        (("--batch_size=0",), "--batch_size"),
    ],
)
def test_command_line_bad_flags_exit_2_with_one_line(tmp_path, export, args, named):
    (tmp_path / "corpus.txt").write_text("one line\n")
    result = run_cli(
        f"--model_dir={export.base_dir}", f"--input={tmp_path / 'corpus.txt'}", f"--output={tmp_path / 'emb'}", *args
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("hubexport-embed: error: ")
    assert named in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["corpus.txt"]
