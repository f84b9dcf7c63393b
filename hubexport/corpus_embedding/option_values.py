"""The choices and defaults of the embedding options, importable without TensorFlow or Beam (the
command line defines its flags from them before anything heavy is imported)."""

INPUT_FORMATS = ("text", "jsonl", "parquet", "tfrecord")
OUTPUT_FORMATS = ("parquet", "jsonl", "tfrecord")
DEFAULT_INPUT_FORMAT = "text"
DEFAULT_OUTPUT_FORMAT = "parquet"
DEFAULT_SIGNATURE = "serving_default"
DEFAULT_OUTPUTS = ("embedding",)
DEFAULT_BATCH_SIZE = 32
ERRORS_SUFFIX = "_errors"  # the default --errors_output is --output with this appended
