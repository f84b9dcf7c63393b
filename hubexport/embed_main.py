"""hubexport-embed command line: embeds a corpus with an end-to-end export on Apache Beam.

Parses its own flags, passes every other flag to Beam as a pipeline option (`--runner`,
`--direct_running_mode`, `--direct_num_workers`, Dataflow's `--project`, `--region`,
`--sdk_container_image`, ...), calls `hubexport.corpus_embedding.pipeline.embed_corpus` and
prints its one-line summary. Bad flags or input locations end the run with exit code 2 and one
line naming the problem. TensorFlow's and Beam's log lines (the launcher's and those of local
worker processes) appear only when --verbosity (or -v) is given. Needs the `beam` extra.
"""

from __future__ import annotations

import contextlib
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app, flags  # noqa: E402

from hubexport.console import configure_console, native_stderr_to_devnull  # noqa: E402
from hubexport.corpus_embedding.option_values import (  # noqa: E402
    DEFAULT_BATCH_SIZE,
    DEFAULT_INPUT_FORMAT,
    DEFAULT_OUTPUT_FORMAT,
    DEFAULT_OUTPUTS,
    DEFAULT_SIGNATURE,
    ERRORS_SUFFIX,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
)
from hubexport.errors import HubExportError  # noqa: E402

PROGRAM = "hubexport-embed"
USAGE_EXIT_CODE = 2

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "model_dir",
    None,
    "An end-to-end export (hubexport --export_type=end_to_end): its TF Serving "
    "base directory (the highest version is used) or a version directory.",
)
flags.DEFINE_string("input", None, "Input file pattern, e.g. corpus/*.txt or gs://bucket/corpus-*.jsonl.")
flags.DEFINE_enum(
    "input_format",
    DEFAULT_INPUT_FORMAT,
    INPUT_FORMATS,
    "text: one document per line; jsonl: one JSON object per line; parquet: rows; tfrecord: tf.train.Example records.",
)
flags.DEFINE_list(
    "text_field",
    None,
    "jsonl/parquet/tfrecord: the field holding the text (default: text); with "
    "--signature=serving_pair two fields, a,b (default: text_a,text_b).",
)
flags.DEFINE_string(
    "id_field",
    None,
    "jsonl/parquet/tfrecord: the field holding each document's id. Without it the "
    "id is <file path>:<record number from 1> (the line number for text and jsonl).",
)
flags.DEFINE_string(
    "signature",
    DEFAULT_SIGNATURE,
    "The serving signature to run: serving_default (one text) or serving_pair (two texts packed as one input).",
)
flags.DEFINE_string("output", None, "Output path prefix; files are <prefix>-SSSSS-of-NNNNN.<output_format>.")
flags.DEFINE_enum(
    "output_format",
    DEFAULT_OUTPUT_FORMAT,
    OUTPUT_FORMATS,
    "parquet (columns id, embedding as "
    "list<float32>; model name, version and dimension in the file metadata), jsonl or tfrecord "
    "(tf.train.Example).",
)
flags.DEFINE_list(
    "outputs",
    list(DEFAULT_OUTPUTS),
    "The signature outputs to write: embedding, pooled_output, sequence_output, input_mask.",
)
flags.DEFINE_bool("keep_text", False, "Also write the texts (column text, or text_a and text_b).")
flags.DEFINE_string(
    "errors_output",
    None,
    "Path prefix of the dead-letter JSON lines (id, source, kind, reason of "
    "every record that was not embedded); default: <output>" + ERRORS_SUFFIX + ".",
)
flags.DEFINE_integer("batch_size", DEFAULT_BATCH_SIZE, "Documents per model call.", lower_bound=1)
flags.DEFINE_bool("large_model", False, "RunInference: load one model per machine, shared by its worker processes.")
flags.DEFINE_integer(
    "model_copies",
    None,
    "RunInference: load exactly this many models per machine, shared by its worker processes.",
    lower_bound=1,
)

# The flags that are options of `embed_corpus`; only those given on the command line are passed.
EMBED_OPTIONS = (
    "model_dir",
    "input",
    "input_format",
    "text_field",
    "id_field",
    "signature",
    "output",
    "output_format",
    "outputs",
    "keep_text",
    "errors_output",
    "batch_size",
    "large_model",
    "model_copies",
)


def main(argv: list[str]) -> int:
    verbose = FLAGS["verbosity"].present
    configure_console(verbose=verbose)
    from hubexport.corpus_embedding.pipeline import run_embedding  # after configure_console: imports TensorFlow
    from hubexport.corpus_embedding.plan import plan_embedding

    options = {name: FLAGS[name].value for name in EMBED_OPTIONS if FLAGS[name].present}
    try:
        plan = plan_embedding(**options, pipeline_args=argv[1:])
    except HubExportError as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return USAGE_EXIT_CODE
    # Local worker processes inherit the launcher's stderr: quiet mode silences their TensorFlow banners too.
    with contextlib.nullcontext() if verbose else native_stderr_to_devnull():
        result = run_embedding(plan)
    print(result.summary)
    return 0


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parser for this program's flags, leaving the rest (Beam's) in the returned argv; a bad
    value is one line on stderr and exit code 2."""
    try:
        return FLAGS(argv, known_only=True)
    except flags.Error as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        sys.exit(USAGE_EXIT_CODE)


def run() -> None:
    """Console-script entry point."""
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
