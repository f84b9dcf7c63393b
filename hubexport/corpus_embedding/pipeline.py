"""The Beam pipeline that embeds a corpus, and `embed_corpus`, which checks its options and runs it.

    input files -> records -> Reshuffle -> RunInference(EndToEndModelHandler) -> rows -> output files
                        \\-> bad records ------------------ + records of failed batches -> dead letters

Files are matched and spread over the workers, each file is read in order (so ids can name the
record's position), and the documents are spread again before the model, so a single large
file is still embedded in parallel. A record that cannot be embedded is never dropped: it goes
to the dead-letter output with its id, source and reason, and is counted in the Beam counter
`bad_records.<kind>` of namespace `hubexport_embed` (beside `records_read` and `embedded`). If
the model raises on a batch, each of its documents is such a record (kind `model_error`) and the
pipeline goes on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.fileio import MatchFiles
from apache_beam.io.filesystem import FileMetadata
from apache_beam.metrics.metric import Metrics, MetricsFilter
from apache_beam.ml.inference.base import PredictionResult, RunInference
from apache_beam.runners.runner import PipelineResult

from hubexport.corpus_embedding.pipeline_options import new_pipeline
from hubexport.corpus_embedding.plan import EmbeddingPlan, plan_embedding
from hubexport.corpus_embedding.readers import InputSpec, read_records
from hubexport.corpus_embedding.records import BAD_RECORD_KINDS, MODEL_ERROR, BadRecord, Document
from hubexport.corpus_embedding.writers import WriteBadRecords, WriteRows, output_row

METRICS_NAMESPACE = "hubexport_embed"
RECORDS_READ = "records_read"
EMBEDDED = "embedded"
BAD_RECORDS_TAG = "bad_records"


def bad_records_counter_name(kind: str) -> str:
    return f"bad_records.{kind}"


class ReadRecords(beam.DoFn):
    """A matched file's documents; its bad records on the BAD_RECORDS_TAG output."""

    def __init__(self, spec: InputSpec):
        super().__init__()
        self._spec = spec

    def process(self, file: FileMetadata) -> Iterator[Document | beam.pvalue.TaggedOutput]:
        records_read = Metrics.counter(METRICS_NAMESPACE, RECORDS_READ)
        for record in read_records(self._spec, file.path):
            records_read.inc()
            if isinstance(record, BadRecord):
                Metrics.counter(METRICS_NAMESPACE, bad_records_counter_name(record.kind)).inc()
                yield beam.pvalue.TaggedOutput(BAD_RECORDS_TAG, record)
            else:
                yield record


def failed_batch_records(failure: tuple[Sequence[Document], tuple[type, str, list[str]]]) -> Iterator[BadRecord]:
    """A bad record for each document of a batch the model raised on (RunInference's dead letter)."""
    batch, (_, error, _) = failure
    reason = f"the model raised on the record's batch of {len(batch)}: {' '.join(error.split())}"
    counter = Metrics.counter(METRICS_NAMESPACE, bad_records_counter_name(MODEL_ERROR))
    for document in batch:
        counter.inc()
        yield BadRecord(document.id, document.source, MODEL_ERROR, reason)


def embedded_row(result: PredictionResult, text_columns: tuple[str, ...]) -> dict[str, object]:
    Metrics.counter(METRICS_NAMESPACE, EMBEDDED).inc()
    return output_row(result, text_columns)


def build_pipeline(pipeline: beam.Pipeline, plan: EmbeddingPlan) -> None:
    """Adds the embedding transforms of `plan` to `pipeline`."""
    records = (
        pipeline
        | "MatchInput" >> MatchFiles(plan.input.pattern)
        | "SpreadFiles" >> beam.Reshuffle()
        | "ReadRecords" >> beam.ParDo(ReadRecords(plan.input)).with_outputs(BAD_RECORDS_TAG, main="documents")
    )
    embedded, failed = (
        records.documents
        | "SpreadDocuments" >> beam.Reshuffle()
        | "Embed" >> RunInference(plan.handler).with_exception_handling()
    )
    _ = embedded | "Rows" >> beam.Map(embedded_row, plan.output.text_columns) | "WriteOutput" >> WriteRows(plan.output)
    failed_documents = failed.failed_inferences | "FailedBatches" >> beam.FlatMap(failed_batch_records)
    _ = (
        (records[BAD_RECORDS_TAG], failed_documents)
        | "AllBadRecords" >> beam.Flatten()
        | "WriteBadRecords" >> WriteBadRecords(plan.errors_prefix)
    )


@dataclasses.dataclass(frozen=True)
class EmbedResult:
    """What a finished run did: the glob patterns of the written files, and the counters."""

    output_files: str
    errors_files: str
    records_read: int
    embedded: int
    bad_records: dict[str, int]  # kind -> count, for the kinds that occurred

    @property
    def summary(self) -> str:
        bad = sum(self.bad_records.values())
        kinds = f" ({', '.join(f'{kind}: {count}' for kind, count in self.bad_records.items())})" if bad else ""
        return (
            f"embedded {self.embedded} of {self.records_read} records into {self.output_files}; "
            f"{bad} bad records{kinds} in {self.errors_files}"
        )


def embed_corpus(**options: Any) -> EmbedResult:
    """Embeds every record of the input files with an end-to-end export and waits for the end.

    `options` are the keyword arguments of `plan.plan_embedding` (documented there); bad options
    raise ConfigError before anything runs.
    """
    return run_embedding(plan_embedding(**options))


def run_embedding(plan: EmbeddingPlan) -> EmbedResult:
    """Builds and runs the pipeline of a checked plan; returns once it has finished."""
    pipeline = new_pipeline(plan.options)
    build_pipeline(pipeline, plan)
    result = pipeline.run()
    result.wait_until_finish()
    counters = counter_values(result)
    bad_records = {
        kind: counters[bad_records_counter_name(kind)]
        for kind in BAD_RECORD_KINDS
        if counters.get(bad_records_counter_name(kind))
    }
    return EmbedResult(
        f"{plan.output.prefix}-*{plan.output.file_suffix}",
        f"{plan.errors_prefix}-*.jsonl",
        counters.get(RECORDS_READ, 0),
        counters.get(EMBEDDED, 0),
        bad_records,
    )


def counter_values(result: PipelineResult) -> dict[str, int]:
    """The pipeline's hubexport_embed counters by name, summed over steps (committed values where
    the runner has them)."""
    totals: dict[str, int] = {}
    for counter in result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + value
    return totals
