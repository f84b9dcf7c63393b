"""hubexport command line: export an encoder (and its preprocessor) as TF-Hub-style SavedModels.

Flag names follow TF Model Garden's export_tfhub.py where they mean the same thing. Bad flags,
configs or checkpoints end the run with exit code 2 and one line naming the problem; nothing is
left behind in --export_dir.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app, flags  # noqa: E402

from hubexport.errors import ConfigError, HubExportError  # noqa: E402

EXPORT_TYPES = ("encoder",)
USAGE_EXIT_CODE = 2

FLAGS = flags.FLAGS
flags.DEFINE_enum("export_type", "encoder", EXPORT_TYPES,
                  "What to export: 'encoder' writes the encoder SavedModel.")
flags.DEFINE_string("preset", None, "Built-in architecture (see --list_presets), e.g. roberta_base_en.")
flags.DEFINE_string("config_file", None, "JSON encoder config (an EncoderConfig or a preset file) instead of --preset.")
flags.DEFINE_string("checkpoint", None, "Weights to export: a Hugging Face model directory, a keras-hub preset "
                    "directory, a Google TF checkpoint, or an hf:// / kaggle:// handle. Without it the "
                    "weights are random.")
flags.DEFINE_enum("checkpoint_format", "auto", ("auto", "huggingface", "keras_hub", "tf_checkpoint"),
                  "Format of --checkpoint; 'auto' detects it from the files.")
flags.DEFINE_string("export_dir", None, "Directory to write; must not exist unless --overwrite.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --export_dir (only after the new export passed its probe).")
flags.DEFINE_enum("dtype", "float32", ("float32", "mixed_bfloat16"),
                  "Compute dtype of the encoder; variables and outputs stay float32.")
flags.DEFINE_integer("seed", None, "Random seed for randomly initialized weights (no --checkpoint).")
flags.DEFINE_bool("list_presets", False, "Print the built-in presets (name, family, layers, hidden size, parameters) and exit.")


def list_presets() -> str:
    """The preset table that --list_presets prints."""
    from hubexport.encoders.presets import all_presets

    rows = [("name", "family", "layers", "hidden", "parameters")]
    for name, preset in all_presets().items():
        rows.append((name, preset.family, str(preset.encoder.num_layers), str(preset.encoder.hidden_dim),
                     preset.parameter_table["printed"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def warn_random_weights(label: str) -> None:
    """Says loudly on stderr that the export holds random weights."""
    bar = "!" * 78
    print(f"{bar}\n!! WARNING: no --checkpoint given: {label} is exported with RANDOMLY INITIALIZED\n"
          f"!! weights. It computes nothing meaningful until trained or fine-tuned.\n{bar}", file=sys.stderr)


def export_from_flags() -> None:
    """Runs the export the flags describe."""
    from hubexport.model_source import build_encoder
    from hubexport.savedmodel.atomic import check_destination
    from hubexport.savedmodel.encoder_export import export_encoder

    if not FLAGS.export_dir:
        raise ConfigError("--export_dir is required")
    check_destination(FLAGS.export_dir, FLAGS.overwrite)
    source = build_encoder(FLAGS.preset, FLAGS.config_file, dtype=FLAGS.dtype, seed=FLAGS.seed,
                           checkpoint=FLAGS.checkpoint, checkpoint_format=FLAGS.checkpoint_format)
    if not FLAGS.checkpoint:
        warn_random_weights(source.architecture)
    path = export_encoder(source.model, FLAGS.export_dir, overwrite=FLAGS.overwrite,
                          metadata={"architecture": source.architecture, "weights": source.weights})
    print(f"Exported encoder ({source.architecture}, {source.weights}, {FLAGS.dtype}, "
          f"{source.model.count_params():,} parameters) to {path}")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected positional arguments: {' '.join(argv[1:])}")
    if FLAGS.list_presets:
        print(list_presets())
        return 0
    try:
        export_from_flags()
    except HubExportError as error:
        print(f"hubexport: error: {error}", file=sys.stderr)
        return USAGE_EXIT_CODE
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
