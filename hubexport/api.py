"""hubexport's Python API: one keyword-only function per export type, and `export` over them all.

The command line (`hubexport`, export_main.py) parses flags and calls `export`; everything it can
do is callable from Python the same way:

    import hubexport
    result = hubexport.export(export_type="both", preset="bert_base_en_uncased", tokenizer="path/to/tokenizer",
                              export_dir="exports/bert")
    print(result.summary)

Bad input raises a `hubexport.HubExportError` subclass whose message names the problem (options are
named as their command-line flags, e.g. `--export_dir`); an export that fails its own probe raises
`ExportProbeError`. Nothing half-written is left behind either way. Progress is logged, never
printed (see `hubexport.progress`). TensorFlow is imported on first use, not on `import hubexport`.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import pathlib
from typing import Any

from hubexport import progress
from hubexport.errors import ConfigError

EXPORT_TYPES = {
    "encoder": "the encoder SavedModel (pooled_output, sequence_output, encoder_outputs; fine-tunable)",
    "preprocessor": "the in-graph tokenizer and packing SavedModel (tokenize, bert_pack_inputs)",
    "both": "DIR/encoder and DIR/preprocessor, moved into place together",
    "encoder_with_mlm": "the encoder plus an `mlm` function and signature with the checkpoint's masked-LM head",
    "end_to_end": "text in, embedding out: one SavedModel as version DIR/N in TF Serving's layout "
    "(a classification checkpoint's: text in, logits and labels out)",
    "encoder_with_classifier": "the encoder plus a `classify` function and signature with a Hugging Face "
    "classification checkpoint's head",
}
PathLike = str | os.PathLike


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What an export wrote: its absolute `path` (for end_to_end the version directory), a one-line
    `summary`, and for end_to_end the text of `serving_commands.txt` (else None)."""

    export_type: str
    path: pathlib.Path
    summary: str
    serving_instructions: str | None = None


def export_encoder(
    *,
    export_dir: PathLike,
    preset: str | None = None,
    config_file: PathLike | None = None,
    checkpoint: PathLike | None = None,
    checkpoint_format: str = "auto",
    dtype: str = "float32",
    seed: int | None = None,
    overwrite: bool = False,
    int8_min_cosine: float | None = None,
) -> ExportResult:
    """Exports the encoder SavedModel to `export_dir` (see `export` for the arguments)."""
    from hubexport.savedmodel.atomic import check_destination
    from hubexport.savedmodel.encoder_export import export_encoder as write_encoder

    check_destination(export_dir, overwrite)
    int8 = _int8_request(dtype, int8_min_cosine)
    source = _encoder(
        preset=preset,
        config_file=config_file,
        checkpoint=checkpoint,
        checkpoint_format=checkpoint_format,
        dtype=dtype,
        seed=seed,
    )
    summary = _encoder_summary(source, dtype)
    # The export gets the last reference to the model, so the weights are freed before its probe.
    path = write_encoder(source.take_model(), export_dir, overwrite=overwrite, metadata=source.metadata, int8=int8)
    return ExportResult("encoder", path, f"exported {summary} to {path}")


def export_preprocessor(
    *,
    export_dir: PathLike,
    tokenizer: PathLike | None = None,
    vocab_file: PathLike | None = None,
    merges_file: PathLike | None = None,
    sp_model_file: PathLike | None = None,
    do_lower_case: bool | None = None,
    split_special_tokens: bool = False,
    checkpoint: PathLike | None = None,
    default_seq_length: int = 128,
    truncation: str = "round_robin",
    overwrite: bool = False,
) -> ExportResult:
    """Exports the preprocessor SavedModel to `export_dir` (see `export` for the arguments)."""
    from hubexport.savedmodel.atomic import check_destination
    from hubexport.savedmodel.preprocessor_export import export_preprocessor as write_preprocessor

    check_destination(export_dir, overwrite)
    in_graph = _tokenizer(
        "preprocessor",
        tokenizer=tokenizer,
        vocab_file=vocab_file,
        merges_file=merges_file,
        sp_model_file=sp_model_file,
        do_lower_case=do_lower_case,
        split_special_tokens=split_special_tokens,
        checkpoint=checkpoint,
    )
    path = write_preprocessor(
        in_graph, export_dir, default_seq_length=default_seq_length, truncation=truncation, overwrite=overwrite
    )
    return ExportResult(
        "preprocessor", path, f"exported {_preprocessor_summary(in_graph, default_seq_length)} to {path}"
    )


def export_encoder_and_preprocessor(
    *,
    export_dir: PathLike,
    preset: str | None = None,
    config_file: PathLike | None = None,
    checkpoint: PathLike | None = None,
    checkpoint_format: str = "auto",
    dtype: str = "float32",
    seed: int | None = None,
    tokenizer: PathLike | None = None,
    vocab_file: PathLike | None = None,
    merges_file: PathLike | None = None,
    sp_model_file: PathLike | None = None,
    do_lower_case: bool | None = None,
    split_special_tokens: bool = False,
    default_seq_length: int = 128,
    truncation: str = "round_robin",
    overwrite: bool = False,
    int8_min_cosine: float | None = None,
) -> ExportResult:
    """Exports `export_dir/encoder` and `export_dir/preprocessor`, which land together or not at all."""
    from hubexport.preprocess.preprocessor_module import check_default_seq_length
    from hubexport.savedmodel.atomic import check_destination, export_atomically
    from hubexport.savedmodel.encoder_export import export_encoder as write_encoder
    from hubexport.savedmodel.preprocessor_export import export_preprocessor as write_preprocessor

    check_destination(export_dir, overwrite)
    int8 = _int8_request(dtype, int8_min_cosine)
    in_graph = _tokenizer(
        "both",
        tokenizer=tokenizer,
        vocab_file=vocab_file,
        merges_file=merges_file,
        sp_model_file=sp_model_file,
        do_lower_case=do_lower_case,
        split_special_tokens=split_special_tokens,
        checkpoint=checkpoint,
    )
    source = _encoder(
        preset=preset,
        config_file=config_file,
        checkpoint=checkpoint,
        checkpoint_format=checkpoint_format,
        dtype=dtype,
        seed=seed,
        tokenizer=in_graph,
    )
    summary = f"{_encoder_summary(source, dtype)} and {_preprocessor_summary(in_graph, default_seq_length)}"
    max_seq_length = source.model.config.max_sequence_length
    check_default_seq_length(default_seq_length, max_seq_length)  # before the encoder's slow export

    def write_pair(staging: pathlib.Path) -> None:
        # The export gets the last reference to the model, so the weights are freed before its probe.
        write_encoder(source.take_model(), staging / "encoder", metadata=source.metadata, int8=int8)
        write_preprocessor(
            in_graph,
            staging / "preprocessor",
            default_seq_length=default_seq_length,
            truncation=truncation,
            max_seq_length=max_seq_length,
        )

    # Each half is probed by its own export before it lands in staging.
    path = export_atomically(export_dir, overwrite, write_pair, probe=lambda staging: None)
    return ExportResult("both", path, f"exported {summary} to {path}")


def export_encoder_with_mlm(
    *,
    export_dir: PathLike,
    preset: str | None = None,
    config_file: PathLike | None = None,
    checkpoint: PathLike | None = None,
    checkpoint_format: str = "auto",
    dtype: str = "float32",
    seed: int | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Exports the encoder with an `mlm` function and signature holding the masked-LM head."""
    from hubexport.savedmodel.atomic import check_destination
    from hubexport.savedmodel.mlm_export import export_encoder_with_mlm as write_encoder_with_mlm

    check_destination(export_dir, overwrite)
    if dtype == "int8":
        raise ConfigError("--dtype=int8 applies to --export_type=encoder, both and end_to_end, not encoder_with_mlm")
    source = _encoder(
        preset=preset,
        config_file=config_file,
        checkpoint=checkpoint,
        checkpoint_format=checkpoint_format,
        dtype=dtype,
        seed=seed,
        with_mlm=True,
    )
    summary = f"{_encoder_summary(source, dtype)} with its masked-LM head"
    # The export gets the last references to the model and head, so the weights are freed before its
    # probe (passed as plain arguments: an unpacked tuple would hold them until the call returns).
    path = write_encoder_with_mlm(
        source.take_model(), source.take_mlm_head(), export_dir, overwrite=overwrite, metadata=source.metadata
    )
    return ExportResult("encoder_with_mlm", path, f"exported {summary} to {path}")


def export_encoder_with_classifier(
    *,
    export_dir: PathLike,
    checkpoint: PathLike | None = None,
    preset: str | None = None,
    config_file: PathLike | None = None,
    checkpoint_format: str = "auto",
    dtype: str = "float32",
    overwrite: bool = False,
) -> ExportResult:
    """Exports the encoder with a `classify` function and signature holding the classifier head of
    `checkpoint`, a Hugging Face `*ForSequenceClassification` / `*ForTokenClassification` directory."""
    from hubexport.savedmodel.atomic import check_destination
    from hubexport.savedmodel.classifier_export import export_encoder_with_classifier as write_encoder_with_classifier

    check_destination(export_dir, overwrite)
    if dtype == "int8":
        raise ConfigError("--dtype=int8 does not apply to --export_type=encoder_with_classifier")
    source = _encoder(
        preset=preset,
        config_file=config_file,
        checkpoint=checkpoint,
        checkpoint_format=checkpoint_format,
        dtype=dtype,
        seed=None,
        with_classifier=True,
    )
    spec = source.classifier_spec
    summary = f"{_encoder_summary(source, dtype)} with its {spec.task} classifier head ({spec.num_labels} labels)"
    # The export gets the last references to the model and head, so the weights are freed before its probe.
    path = write_encoder_with_classifier(
        source.take_model(), source.take_classifier(), spec, export_dir, overwrite=overwrite, metadata=source.metadata
    )
    return ExportResult("encoder_with_classifier", path, f"exported {summary} to {path}")


def export_end_to_end(
    *,
    export_dir: PathLike,
    preset: str | None = None,
    config_file: PathLike | None = None,
    checkpoint: PathLike | None = None,
    checkpoint_format: str = "auto",
    dtype: str = "float32",
    seed: int | None = None,
    tokenizer: PathLike | None = None,
    vocab_file: PathLike | None = None,
    merges_file: PathLike | None = None,
    sp_model_file: PathLike | None = None,
    do_lower_case: bool | None = None,
    split_special_tokens: bool = False,
    default_seq_length: int | None = None,
    truncation: str = "round_robin",
    serving_version: int | None = None,
    overwrite: bool = False,
    int8_min_cosine: float | None = None,
) -> ExportResult:
    """Exports text -> embedding as version `serving_version` (default: the next) of `export_dir`.

    A sentence-transformers `checkpoint` directory (one with `modules.json`) exports the embedding its
    `SentenceTransformer(checkpoint).encode` returns; its max_seq_length and do_lower_case apply unless
    `default_seq_length` / `do_lower_case` are given. Other sources default to seq_length 128.
    A Hugging Face `*ForSequenceClassification` / `*ForTokenClassification` directory exports text ->
    `logits`, `probabilities`, `label_id` and `label` with its classifier head (token classifiers add
    `input_mask` and byte `offsets`) instead of the embedding.
    """
    from hubexport.checkpoints.handles import resolve_checkpoint
    from hubexport.checkpoints.hf_classifier_head import has_classifier_head
    from hubexport.checkpoints.sentence_transformers_dir import (
        is_sentence_transformers_dir,
        read_sentence_transformers_dir,
    )
    from hubexport.model_cards.source_card import source_card_facts
    from hubexport.serving.end_to_end_export import export_end_to_end as write_end_to_end

    int8 = _int8_request(dtype, int8_min_cosine)
    local_checkpoint = resolve_checkpoint(checkpoint) if checkpoint else None  # hf:// / kaggle:// handles: downloaded
    chain = read_sentence_transformers_dir(local_checkpoint) if is_sentence_transformers_dir(local_checkpoint) else None
    if chain is not None and do_lower_case is None and chain.do_lower_case:
        do_lower_case = True
    with_classifier = chain is None and has_classifier_head(local_checkpoint)
    in_graph = _tokenizer(
        "end_to_end",
        tokenizer=tokenizer,
        vocab_file=vocab_file,
        merges_file=merges_file,
        sp_model_file=sp_model_file,
        do_lower_case=do_lower_case,
        split_special_tokens=split_special_tokens,
        checkpoint=checkpoint,
    )
    source = _encoder(
        preset=preset,
        config_file=config_file,
        checkpoint=checkpoint,
        checkpoint_format=checkpoint_format,
        dtype=dtype,
        seed=seed,
        tokenizer=in_graph,
        with_classifier=with_classifier,
    )
    if default_seq_length is None:
        default_seq_length = 128 if chain is None else chain.default_seq_length(source.model.config.max_sequence_length)
    chain_summary = "" if chain is None else f", sentence-transformers {' -> '.join(chain.module_types)}"
    spec = source.classifier_spec
    kind = "text embedding model" if spec is None else f"{spec.task} classifier ({spec.num_labels} labels)"
    summary = (
        f"end-to-end {kind} ({source.architecture}, {source.weights}, {dtype}, "
        f"{in_graph.scheme}, seq_length {default_seq_length}{chain_summary})"
    )
    metadata = dict(source.metadata)
    if checkpoint:
        metadata["checkpoint"] = os.fspath(checkpoint)
        if os.path.isdir(checkpoint):
            metadata.update(source_card_facts(checkpoint))
    # The export gets the last reference to the model, so the weights are freed before its probe.
    result = write_end_to_end(
        source.take_model(),
        in_graph,
        export_dir,
        serving_version=serving_version,
        default_seq_length=default_seq_length,
        truncation=truncation,
        overwrite=overwrite,
        metadata=metadata,
        int8=int8,
        sentence_chain=chain,
        classifier=source.take_classifier(),
        classifier_spec=spec,
    )
    return ExportResult("end_to_end", result.path, f"exported {summary} to {result.path}", result.serving_instructions)


EXPORTS = {
    "encoder": export_encoder,
    "preprocessor": export_preprocessor,
    "both": export_encoder_and_preprocessor,
    "encoder_with_mlm": export_encoder_with_mlm,
    "end_to_end": export_end_to_end,
    "encoder_with_classifier": export_encoder_with_classifier,
}


def export(*, export_type: str, **options: Any) -> ExportResult:
    """Runs the export `export_type` names (a key of `EXPORT_TYPES`) and returns what it wrote.

    `options` are the keyword arguments of that type's function (`EXPORTS[export_type]`):
      export_dir: the directory to write; must not exist unless `overwrite` (for end_to_end: the
        TF Serving model base directory, the export goes to `export_dir/N`).
      preset / config_file: the architecture (a built-in preset name, or an encoder config JSON).
      checkpoint, checkpoint_format: weights to import ("auto", "huggingface", "keras_hub",
        "tf_checkpoint"); without a checkpoint the weights are random (seeded by `seed`).
      dtype: "float32" or "mixed_bfloat16" compute (variables and outputs stay float32), or "int8": a
        serving-only export whose encoder dense layers multiply in int8 (not fine-tunable; encoder, both
        and end_to_end), refused if a probe row's cosine similarity to float32 is below
        `int8_min_cosine` (default 0.98; see hubexport.savedmodel.int8_quantization).
      tokenizer: a Hugging Face tokenizer directory (defaults to `checkpoint` when that directory
        holds tokenizer files); or explicit `vocab_file` (+ `merges_file`) / `sp_model_file`, with
        `do_lower_case` (None: detected). Added and special tokens written in the text get their
        ids as Hugging Face's tokenizer gives them; `split_special_tokens` (HF's option) makes the
        special ones plain text.
      default_seq_length, truncation: packing of the preprocessor's root call and signatures (for end_to_end,
        unset means a sentence-transformers directory's own max_seq_length, else 128)
        ("round_robin" as Hugging Face's longest_first, or "waterfall").
      serving_version: for end_to_end, the version N (default: the next free one).
      overwrite: replace an existing export, only once the new one has passed its probe.
    An option the type does not take raises ConfigError naming it, rather than being ignored.
    """
    if export_type not in EXPORTS:
        raise ConfigError(f"unknown --export_type {export_type!r}; expected one of {', '.join(EXPORTS)}")
    if not options.get("export_dir"):
        raise ConfigError("--export_dir is required")
    function = EXPORTS[export_type]
    for name in options:
        if name not in inspect.signature(function).parameters:
            raise ConfigError(f"--{name} does not apply to --export_type={export_type}")
    return function(**options)


def _tokenizer(
    export_type: str,
    *,
    tokenizer: PathLike | None,
    vocab_file: PathLike | None,
    merges_file: PathLike | None,
    sp_model_file: PathLike | None,
    do_lower_case: bool | None,
    split_special_tokens: bool,
    checkpoint: PathLike | None,
) -> Any:
    """The in-graph tokenizer the tokenizer options (or a checkpoint directory) name."""
    from hubexport.preprocess.tokenizer_files import load_tokenizer

    explicit = {"vocab_file": vocab_file, "merges_file": merges_file, "sp_model_file": sp_model_file}
    directory = tokenizer
    if directory is None and not any(explicit.values()) and checkpoint and os.path.isdir(checkpoint):
        directory = checkpoint
    if directory is None and not any(explicit.values()):
        raise ConfigError(f"--export_type={export_type} needs --tokenizer, --vocab_file or --sp_model_file")
    with progress.stage("load tokenizer"):
        return load_tokenizer(
            directory, do_lower_case=do_lower_case, split_special_tokens=split_special_tokens, **explicit
        )


def _encoder(
    *,
    preset: str | None,
    config_file: PathLike | None,
    checkpoint: PathLike | None,
    checkpoint_format: str,
    dtype: str,
    seed: int | None,
    tokenizer: Any = None,
    with_mlm: bool = False,
    with_classifier: bool = False,
) -> Any:
    """The encoder source the options describe, checked against `tokenizer`; warns when weights are random."""
    from hubexport.model_source import build_encoder

    source = build_encoder(
        preset,
        None if config_file is None else str(config_file),
        dtype="float32" if dtype == "int8" else dtype,  # the export quantizes the float32 model
        seed=seed,
        checkpoint=checkpoint,
        checkpoint_format=checkpoint_format,
        with_mlm=with_mlm,
        with_classifier=with_classifier,
    )
    if tokenizer is not None:
        _check_tokenizer_fits(tokenizer, source.model.config)
    if not checkpoint:
        progress.warn(
            f"no --checkpoint given: {source.architecture} is exported with RANDOMLY INITIALIZED "
            "weights; it computes nothing meaningful until trained or fine-tuned"
        )
    return source


def _check_tokenizer_fits(tokenizer: Any, config: Any) -> None:
    """Refuses a tokenizer whose ids or packing the encoder (of `config`) cannot take."""
    expected_style = "roberta" if config.family in ("roberta", "xlm_roberta") else "bert"
    if tokenizer.packing_style != expected_style:
        raise ConfigError(
            f"the tokenizer packs inputs {tokenizer.packing_style}-style but a {config.family} "
            f"encoder expects {expected_style}-style: check --tokenizer"
        )
    if tokenizer.vocab_size > config.vocabulary_size:
        raise ConfigError(
            f"the tokenizer has {tokenizer.vocab_size} ids but the encoder's vocabulary_size is "
            f"{config.vocabulary_size}: check --tokenizer"
        )


def _int8_request(dtype: str, int8_min_cosine: float | None) -> Any:
    """The `Int8Quantization` that `dtype="int8"` asks for (None for other dtypes, which take no int8 bound)."""
    from hubexport.savedmodel.int8_quantization import Int8Quantization

    if dtype != "int8":
        if int8_min_cosine is not None:
            raise ConfigError("--int8_min_cosine applies only with --dtype=int8")
        return None
    return Int8Quantization() if int8_min_cosine is None else Int8Quantization(min_cosine=int8_min_cosine)


def _encoder_summary(source: Any, dtype: str) -> str:
    return f"encoder ({source.architecture}, {source.weights}, {dtype}, {source.model.count_params():,} parameters)"


def _preprocessor_summary(tokenizer: Any, default_seq_length: int) -> str:
    return f"preprocessor ({tokenizer.scheme}, vocabulary {tokenizer.vocab_size}, seq_length {default_seq_length})"
