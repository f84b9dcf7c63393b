"""Beam pipeline options from command-line style arguments, strictly: an unknown option is an error.

Beam itself drops arguments it does not know with a logged warning, so a mistyped flag would be
ignored; here it raises ConfigError naming it, as does a bad value for a known option. Without
`--runner` the pipeline runs on Beam's FnApiRunner, the local runner that works offline (Beam's
DirectRunner first tries the Prism runner, which it downloads). `--direct_running_mode`
(in_memory, multi_threading, multi_processing) and `--direct_num_workers` configure it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.portability.api import beam_provision_api_pb2
from apache_beam.runners.portability.fn_api_runner import fn_runner
from apache_beam.runners.portability.portable_runner import JobServiceHandle

from hubexport.errors import ConfigError

DEFAULT_RUNNER = "FnApiRunner"


def beam_pipeline_options(pipeline_args: Sequence[str]) -> PipelineOptions:
    """Beam's options for `pipeline_args` (e.g. ["--runner=DataflowRunner", "--project=p"])."""
    pipeline_args = list(pipeline_args)
    parsers: list[argparse.ArgumentParser] = []

    def raise_instead_of_exiting(parser: argparse.ArgumentParser) -> None:
        parser.exit_on_error = False  # argparse raises ArgumentError rather than printing usage and exiting
        parsers.append(parser)

    options = PipelineOptions(pipeline_args)
    try:
        # Beam builds its parser of every known option, calls the hook with it, then parses.
        options.get_all_options(add_extra_args_fn=raise_instead_of_exiting)
        _, unknown = parsers[0].parse_known_args(pipeline_args)
    except argparse.ArgumentError as error:
        raise ConfigError(f"bad Beam pipeline option: {error}") from None
    if unknown and unknown[0].startswith("-"):
        raise ConfigError(f"unknown flag {unknown[0]}: neither a hubexport-embed flag nor a Beam pipeline option")
    if unknown:
        raise ConfigError(f"unexpected argument {unknown[0]!r}")
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = DEFAULT_RUNNER
    return options


def new_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """A pipeline on the runner `options` name; the FnApiRunner is given the options for its SDK
    workers too (as Beam's DirectRunner does when it picks it), else its worker processes would
    run with default options (logging at INFO, for one)."""
    if options.view_as(StandardOptions).runner != DEFAULT_RUNNER:
        return beam.Pipeline(options=options)
    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    runner = fn_runner.FnApiRunner(
        provision_info=fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    )
    return beam.Pipeline(runner=runner, options=options)
