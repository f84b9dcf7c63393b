"""hubexport command line: parses flags, calls `hubexport.api.export`, prints what it did.

Flag names follow TF Model Garden's export_tfhub.py where they mean the same thing. Bad flags,
configs or checkpoints end the run with exit code 2 and one line naming the problem; an export
that fails its own probe ends it with exit code 1; nothing is left behind in --export_dir either
way. The console gets one line per finished stage with its time and `hubexport: warning: ...`
lines; TensorFlow's own log lines appear only when --verbosity (or -v) is given.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app, flags  # noqa: E402

from hubexport.api import EXPORT_TYPES  # noqa: E402  (hubexport.api imports TensorFlow only when called)
from hubexport.console import configure_console  # noqa: E402
from hubexport.errors import ExportProbeError, HubExportError  # noqa: E402

USAGE_EXIT_CODE = 2
PROBE_EXIT_CODE = 1

FLAGS = flags.FLAGS
flags.DEFINE_enum(
    "export_type",
    "encoder",
    list(EXPORT_TYPES),
    "What to export: " + "; ".join(f"'{name}': {description}" for name, description in EXPORT_TYPES.items()) + ".",
)
flags.DEFINE_string("preset", None, "Built-in architecture (see --list_presets), e.g. roberta_base_en.")
flags.DEFINE_string("config_file", None, "JSON encoder config (an EncoderConfig or a preset file) instead of --preset.")
flags.DEFINE_string(
    "checkpoint",
    None,
    "Weights to export: a Hugging Face model directory, a keras-hub preset "
    "directory, a Google TF checkpoint, or an hf:// / kaggle:// handle. Without it the "
    "weights are random.",
)
flags.DEFINE_enum(
    "checkpoint_format",
    "auto",
    ("auto", "huggingface", "keras_hub", "tf_checkpoint"),
    "Format of --checkpoint; 'auto' detects it from the files.",
)
flags.DEFINE_string("export_dir", None, "Directory to write; must not exist unless --overwrite.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --export_dir (only after the new export passed its probe).")
flags.DEFINE_enum(
    "dtype",
    "float32",
    ("float32", "mixed_bfloat16", "int8"),
    "Compute dtype of the encoder; variables and outputs stay float32. int8: a serving-only export (encoder, "
    "both, end_to_end) whose encoder dense layers multiply in int8 on CPU; not fine-tunable.",
)
flags.DEFINE_float(
    "int8_min_cosine",
    None,
    "With --dtype=int8: the smallest cosine similarity to float32 a probe row may have (default 0.98); "
    "an export below it fails.",
)
flags.DEFINE_integer("seed", None, "Random seed for randomly initialized weights (no --checkpoint).")
flags.DEFINE_string(
    "tokenizer",
    None,
    "A Hugging Face tokenizer directory (tokenizer_config.json, tokenizer.json, "
    "vocab.txt, vocab.json + merges.txt, spiece.model or sentencepiece.bpe.model); family "
    "and casing are detected. Defaults to --checkpoint when that directory holds tokenizer files.",
)
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt, or byte-level BPE vocab.json (with --merges_file).")
flags.DEFINE_string("merges_file", None, "Byte-level BPE merges.txt (with --vocab_file vocab.json).")
flags.DEFINE_string(
    "sp_model_file", None, "SentencePiece model (ALBERT spiece.model or XLM-R sentencepiece.bpe.model)."
)
flags.DEFINE_bool(
    "do_lower_case",
    None,
    "Lowercase (and strip accents) before WordPiece/SentencePiece; detected from the tokenizer files when not given.",
)
flags.DEFINE_bool(
    "split_special_tokens",
    False,
    "Tokenize special tokens written in the text ([MASK], <s>, ...) as plain text, as Hugging Face's option of "
    "this name does; by default they get their ids, as Hugging Face's tokenizer gives them. Other added tokens "
    "are recognised either way.",
)
flags.DEFINE_integer(
    "default_seq_length",
    128,
    "Sequence length of the preprocessor's root call and "
    "serving signatures; bert_pack_inputs takes any seq_length at call time.",
)
flags.DEFINE_enum(
    "truncation",
    "round_robin",
    ("round_robin", "waterfall"),
    "How bert_pack_inputs shortens segments: round_robin (Hugging Face's longest_first) or "
    "waterfall (earlier segments keep what fits).",
)
flags.DEFINE_integer(
    "serving_version",
    None,
    "With --export_type=end_to_end: the version N written to "
    "--export_dir/N (TF Serving's layout); default: the next free version, 1 for a new directory.",
    lower_bound=0,
)
flags.DEFINE_bool(
    "list_presets", False, "Print the built-in presets (name, family, layers, hidden size, parameters) and exit."
)

# The flags that are options of `hubexport.api.export`; only those given on the command line are passed.
EXPORT_OPTIONS = (
    "export_dir",
    "preset",
    "config_file",
    "checkpoint",
    "checkpoint_format",
    "overwrite",
    "dtype",
    "int8_min_cosine",
    "seed",
    "tokenizer",
    "vocab_file",
    "merges_file",
    "sp_model_file",
    "do_lower_case",
    "split_special_tokens",
    "default_seq_length",
    "truncation",
    "serving_version",
)


def list_presets() -> str:
    """The preset table that --list_presets prints."""
    from hubexport.encoders.presets import all_presets

    rows = [("name", "family", "layers", "hidden", "parameters")]
    for name, preset in all_presets().items():
        rows.append(
            (
                name,
                preset.family,
                str(preset.encoder.num_layers),
                str(preset.encoder.hidden_dim),
                preset.parameter_table["printed"],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected positional arguments: {' '.join(argv[1:])}")
    if FLAGS.list_presets:
        print(list_presets())
        return 0
    configure_console(verbose=FLAGS["verbosity"].present)
    from hubexport import api  # after configure_console: the API imports TensorFlow

    options = {name: FLAGS[name].value for name in EXPORT_OPTIONS if FLAGS[name].present}
    try:
        result = api.export(export_type=FLAGS.export_type, **options)
    except ExportProbeError as error:
        print(
            f"hubexport: error: the export failed its probe (a hubexport bug; please report it): {error}",
            file=sys.stderr,
        )
        return PROBE_EXIT_CODE
    except HubExportError as error:
        print(f"hubexport: error: {error}", file=sys.stderr)
        return USAGE_EXIT_CODE
    print(result.summary)
    if result.serving_instructions:
        print(result.serving_instructions)
    return 0


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parser, but a bad flag is one line on stderr and exit code 2."""
    try:
        return FLAGS(argv)
    except flags.Error as error:
        print(f"hubexport: error: {error}", file=sys.stderr)
        sys.exit(USAGE_EXIT_CODE)


def run() -> None:
    """Console-script entry point."""
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
