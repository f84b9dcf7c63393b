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

EXPORT_TYPES = ("encoder", "preprocessor", "both", "encoder_with_mlm", "end_to_end")
USAGE_EXIT_CODE = 2

FLAGS = flags.FLAGS
flags.DEFINE_enum("export_type", "encoder", EXPORT_TYPES,
                  "What to export: 'encoder' (the encoder SavedModel), 'preprocessor' (the in-graph tokenizer "
                  "and packing SavedModel), 'both' (DIR/encoder and DIR/preprocessor), 'encoder_with_mlm' (the "
                  "encoder SavedModel plus an `mlm` function and signature with the checkpoint's masked-LM head).")
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
flags.DEFINE_string("tokenizer", None, "A Hugging Face tokenizer directory (tokenizer_config.json, tokenizer.json, "
                    "vocab.txt, vocab.json + merges.txt, spiece.model or sentencepiece.bpe.model); family "
                    "and casing are detected. Defaults to --checkpoint when that directory holds tokenizer files.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt, or byte-level BPE vocab.json (with --merges_file).")
flags.DEFINE_string("merges_file", None, "Byte-level BPE merges.txt (with --vocab_file vocab.json).")
flags.DEFINE_string("sp_model_file", None, "SentencePiece model (ALBERT spiece.model or XLM-R sentencepiece.bpe.model).")
flags.DEFINE_bool("do_lower_case", None, "Lowercase (and strip accents) before WordPiece/SentencePiece; "
                  "detected from the tokenizer files when not given.")
flags.DEFINE_integer("default_seq_length", 128, "Sequence length of the preprocessor's root call and "
                     "serving signatures; bert_pack_inputs takes any seq_length at call time.")
flags.DEFINE_enum("truncation", "round_robin", ("round_robin", "waterfall"),
                  "How bert_pack_inputs shortens segments: round_robin (Hugging Face's longest_first) or "
                  "waterfall (earlier segments keep what fits).")
flags.DEFINE_integer("serving_version", None, "With --export_type=end_to_end: the version N written to "
                     "--export_dir/N (TF Serving's layout); default: the next free version, 1 for a new directory.",
                     lower_bound=0)
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


def tokenizer_from_flags():
    """The in-graph tokenizer the tokenizer flags (or a checkpoint directory) name."""
    from hubexport.preprocess.tokenizer_files import load_tokenizer

    explicit = {"vocab_file": FLAGS.vocab_file, "merges_file": FLAGS.merges_file, "sp_model_file": FLAGS.sp_model_file}
    directory = FLAGS.tokenizer
    if directory is None and not any(explicit.values()) and FLAGS.checkpoint and os.path.isdir(FLAGS.checkpoint):
        directory = FLAGS.checkpoint
    if directory is None and not any(explicit.values()):
        raise ConfigError(f"--export_type={FLAGS.export_type} needs --tokenizer, --vocab_file or --sp_model_file")
    return load_tokenizer(directory, do_lower_case=FLAGS.do_lower_case, **explicit)


def check_tokenizer_fits(tokenizer, model) -> None:
    """Refuses a tokenizer whose ids or packing the encoder cannot take."""
    expected_style = "roberta" if model.config.family in ("roberta", "xlm_roberta") else "bert"
    if tokenizer.packing_style != expected_style:
        raise ConfigError(f"the tokenizer packs inputs {tokenizer.packing_style}-style but a {model.config.family} "
                          f"encoder expects {expected_style}-style: check --tokenizer")
    if tokenizer.vocab_size > model.config.vocabulary_size:
        raise ConfigError(f"the tokenizer has {tokenizer.vocab_size} ids but the encoder's vocabulary_size is "
                          f"{model.config.vocabulary_size}: check --tokenizer")


def encoder_from_flags(tokenizer=None, with_mlm: bool = False):
    """The encoder the flags describe, checked against `tokenizer`; warns when weights are random."""
    from hubexport.model_source import build_encoder

    source = build_encoder(FLAGS.preset, FLAGS.config_file, dtype=FLAGS.dtype, seed=FLAGS.seed,
                           checkpoint=FLAGS.checkpoint, checkpoint_format=FLAGS.checkpoint_format,
                           with_mlm=with_mlm)
    if tokenizer is not None:
        check_tokenizer_fits(tokenizer, source.model)
    if not FLAGS.checkpoint:
        warn_random_weights(source.architecture)
    return source


def export_end_to_end_from_flags() -> None:
    """--export_type=end_to_end: one text-to-embedding SavedModel as version N of --export_dir."""
    from hubexport.model_cards.source_card import source_card_facts
    from hubexport.serving.end_to_end_export import export_end_to_end

    tokenizer = tokenizer_from_flags()
    source = encoder_from_flags(tokenizer)
    metadata = dict(source.metadata)
    if FLAGS.checkpoint:
        metadata["checkpoint"] = FLAGS.checkpoint
        if os.path.isdir(FLAGS.checkpoint):
            metadata.update(source_card_facts(FLAGS.checkpoint))
    # The export gets the last reference to the model, so the weights are freed before its probe.
    result = export_end_to_end(source.take_model(), tokenizer, FLAGS.export_dir, serving_version=FLAGS.serving_version,
                               default_seq_length=FLAGS.default_seq_length, truncation=FLAGS.truncation,
                               overwrite=FLAGS.overwrite, metadata=metadata)
    print(f"Exported end-to-end text embedding model ({source.architecture}, {source.weights}, {FLAGS.dtype}, "
          f"{type(tokenizer).__name__}, seq_length {FLAGS.default_seq_length}) to {result.path}")
    print(result.serving_instructions)


def export_from_flags() -> None:
    """Runs the export the flags describe."""
    from hubexport.savedmodel.atomic import check_destination, export_atomically
    from hubexport.savedmodel.encoder_export import export_encoder
    from hubexport.savedmodel.preprocessor_export import export_preprocessor

    if not FLAGS.export_dir:
        raise ConfigError("--export_dir is required")
    if FLAGS.serving_version is not None and FLAGS.export_type != "end_to_end":
        raise ConfigError("--serving_version applies to --export_type=end_to_end only")
    if FLAGS.export_type == "end_to_end":  # --export_dir is the model directory; versions go below it
        export_end_to_end_from_flags()
        return
    check_destination(FLAGS.export_dir, FLAGS.overwrite)
    if FLAGS.export_type == "encoder_with_mlm":
        from hubexport.savedmodel.mlm_export import export_encoder_with_mlm

        source = encoder_from_flags(with_mlm=True)
        # The export gets the last references to the model and head, so the weights are freed before its
        # probe (passed as plain arguments: an unpacked tuple would hold them until the call returns).
        path = export_encoder_with_mlm(source.take_model(), source.take_mlm_head(), FLAGS.export_dir,
                                       overwrite=FLAGS.overwrite, metadata=source.metadata)
        print(f"Exported encoder with MLM head ({source.architecture}, {source.weights}, {FLAGS.dtype}) to {path}")
        return
    wants_encoder = FLAGS.export_type in ("encoder", "both")
    wants_preprocessor = FLAGS.export_type in ("preprocessor", "both")
    tokenizer = tokenizer_from_flags() if wants_preprocessor else None
    summary = []
    if wants_encoder:
        source = encoder_from_flags(tokenizer)
        summary.append(f"encoder ({source.architecture}, {source.weights}, {FLAGS.dtype}, "
                       f"{source.model.count_params():,} parameters)")
    if tokenizer is not None:
        summary.append(f"preprocessor ({type(tokenizer).__name__}, vocabulary {tokenizer.vocab_size}, "
                       f"seq_length {FLAGS.default_seq_length})")

    def write_encoder(directory, overwrite: bool = False) -> None:
        # The export gets the last reference to the model, so the weights are freed before its probe.
        export_encoder(source.take_model(), directory, overwrite=overwrite, metadata=source.metadata)

    def write_preprocessor(directory, overwrite: bool = False) -> None:
        export_preprocessor(tokenizer, directory, default_seq_length=FLAGS.default_seq_length,
                            truncation=FLAGS.truncation, overwrite=overwrite)

    if FLAGS.export_type == "both":
        def write_pair(staging) -> None:
            write_encoder(staging / "encoder")
            write_preprocessor(staging / "preprocessor")
        # Each half is probed by its own export before it lands in staging.
        export_atomically(FLAGS.export_dir, FLAGS.overwrite, write_pair, probe=lambda staging: None)
    elif wants_encoder:
        write_encoder(FLAGS.export_dir, FLAGS.overwrite)
    else:
        write_preprocessor(FLAGS.export_dir, FLAGS.overwrite)
    print(f"Exported {' and '.join(summary)} to {os.path.abspath(FLAGS.export_dir)}")


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
