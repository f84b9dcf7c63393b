"""Checks the options of an embedding run against each other and the model; the checked plan.

Everything that can be wrong with the options is found here, before a pipeline is built: an
unknown format, a field list that does not fit the signature, an output the signature does not
have, an input pattern that matches nothing, an unknown Beam option. Each raises ConfigError
whose message names the flag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from hubexport.corpus_embedding.exported_model import ExportedModel, OutputTensor, find_exported_model
from hubexport.corpus_embedding.model_handler import EndToEndModelHandler
from hubexport.corpus_embedding.option_values import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_INPUT_FORMAT,
    DEFAULT_OUTPUT_FORMAT,
    DEFAULT_OUTPUTS,
    DEFAULT_SIGNATURE,
    ERRORS_SUFFIX,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
)
from hubexport.corpus_embedding.pipeline_options import beam_pipeline_options
from hubexport.corpus_embedding.readers import InputSpec
from hubexport.corpus_embedding.writers import OutputSpec
from hubexport.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class EmbeddingPlan:
    """A checked embedding run: what to read, the model handler, what to write, the Beam options."""

    input: InputSpec
    handler: EndToEndModelHandler
    output: OutputSpec
    errors_prefix: str
    options: PipelineOptions


def plan_embedding(
    *,
    model_dir: str,
    input: str,
    output: str,
    input_format: str = DEFAULT_INPUT_FORMAT,
    text_field: Sequence[str] | None = None,
    id_field: str | None = None,
    signature: str = DEFAULT_SIGNATURE,
    output_format: str = DEFAULT_OUTPUT_FORMAT,
    outputs: Sequence[str] = DEFAULT_OUTPUTS,
    keep_text: bool = False,
    errors_output: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    large_model: bool = False,
    model_copies: int | None = None,
    pipeline_args: Sequence[str] = (),
) -> EmbeddingPlan:
    """The checked plan of an embedding run (`pipeline.embed_corpus`); raises ConfigError naming the flag.

    model_dir: the export: a TF Serving base directory (its highest version is used) or a version.
    input, input_format: a file pattern, and "text" (one document per line), "jsonl", "parquet"
      or "tfrecord" (tf.train.Example), see readers.py.
    text_field: for jsonl/parquet/tfrecord, the field of each signature input in input-name order
      (default: the input names, "text" or "text_a", "text_b"); id_field: the field holding the
      document id (default: ids are "<file path>:<record number from 1>").
    signature: "serving_default" (one text) or "serving_pair" (two).
    output, output_format: a path prefix, and "parquet", "jsonl" or "tfrecord" (see writers.py);
      outputs: the signature outputs to write (float32 `embedding` [H] by default); keep_text:
      also write the texts.
    errors_output: the dead-letter path prefix (default: `output` + "_errors").
    batch_size: documents per signature call; large_model / model_copies: RunInference's
      sharing of one model (or that many) among the worker processes of a machine.
    pipeline_args: Beam pipeline options, e.g. ["--runner=DataflowRunner", "--project=p", ...];
      the default runner is the local FnApiRunner.
    """
    for flag, value in (("model_dir", model_dir), ("input", input), ("output", output)):
        if not value:
            raise ConfigError(f"--{flag} is required")
    _check_choice("input_format", input_format, INPUT_FORMATS)
    _check_choice("output_format", output_format, OUTPUT_FORMATS)
    if batch_size < 1:
        raise ConfigError(f"--batch_size must be at least 1, got {batch_size}")
    if model_copies is not None and model_copies < 1:
        raise ConfigError(f"--model_copies must be at least 1, got {model_copies}")
    errors_prefix = errors_output or output + ERRORS_SUFFIX
    if errors_prefix == output:
        raise ConfigError("--errors_output must differ from --output")
    options = beam_pipeline_options(pipeline_args)

    model = find_exported_model(model_dir)
    inputs = model.signature(signature).inputs
    text_fields = _text_fields(input_format, text_field, id_field, signature, inputs)
    written = _outputs(outputs, model, signature)
    _check_matches(input)
    handler = EndToEndModelHandler(
        model_path=model.path,
        signature=signature,
        input_names=inputs,
        outputs=tuple(written),
        batch_size=batch_size,
        large_model=large_model,
        model_copies=model_copies,
    )
    metadata = {
        "hubexport.model_name": model.name,
        "hubexport.model_path": model.path,
        "hubexport.signature": signature,
    }
    if model.version is not None:
        metadata["hubexport.model_version"] = str(model.version)
    if model.embedding_dimension(signature) is not None:
        metadata["hubexport.embedding_dimension"] = str(model.embedding_dimension(signature))
    return EmbeddingPlan(
        InputSpec(input, input_format, text_fields, id_field),
        handler,
        OutputSpec(output, output_format, written, inputs if keep_text else (), metadata),
        errors_prefix,
        options,
    )


def _check_choice(flag: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown --{flag} {value!r}; expected one of {', '.join(choices)}")


def _text_fields(
    input_format: str, text_field: Sequence[str] | None, id_field: str | None, signature: str, inputs: tuple[str, ...]
) -> tuple[str, ...]:
    """The fields feeding the signature's inputs, in input-name order (none for text files)."""
    if input_format == "text":
        if text_field or id_field:
            flag = "--text_field" if text_field else "--id_field"
            raise ConfigError(
                f"{flag} does not apply to --input_format=text (one document per line, ids from "
                "file and line number): use jsonl, parquet or tfrecord"
            )
        if len(inputs) != 1:
            raise ConfigError(
                f"--signature {signature} takes {len(inputs)} texts per example ({', '.join(inputs)}) "
                "but --input_format=text holds one per line: use jsonl, parquet or tfrecord"
            )
        return ()
    fields = tuple(text_field) if text_field else inputs
    if len(fields) != len(inputs) or not all(fields):
        raise ConfigError(
            f"--signature {signature} takes {len(inputs)} texts per example ({', '.join(inputs)}): "
            f"--text_field must name {len(inputs)} comma-separated fields, got {','.join(fields)!r}"
        )
    if id_field == "":
        raise ConfigError("--id_field must name a field")
    return fields


def _outputs(outputs: Sequence[str], model: ExportedModel, signature: str) -> dict[str, OutputTensor]:
    available = model.signatures[signature].outputs
    if not outputs:
        raise ConfigError(f"--outputs must name at least one of {', '.join(sorted(available))}")
    for name in outputs:
        if name not in available:
            raise ConfigError(
                f"--outputs {name!r} is not an output of --signature {signature}; it has {', '.join(sorted(available))}"
            )
    if len(set(outputs)) != len(outputs):
        raise ConfigError(f"--outputs names an output twice: {','.join(outputs)}")
    return {name: available[name] for name in outputs}


def _check_matches(pattern: str) -> None:
    try:
        matched = FileSystems.match([pattern])[0].metadata_list
    except (ValueError, OSError) as error:  # Beam raises BeamIOError (an OSError) for unreadable locations
        raise ConfigError(f"--input {pattern}: {str(error).splitlines()[0]}") from None
    if not matched:
        raise ConfigError(f"--input {pattern} matches no files")
