"""The command lines' console: `hubexport: ...` lines for progress and warnings, TensorFlow's noise hidden.

Shared by `hubexport` and `hubexport-embed`. TensorFlow's libraries print notices (oneDNN, CUDA, CPU features)
from C++ while they load, before any log level applies, and absl's app.run sets Python logging, TensorFlow's
included, to INFO; unless the user asks for --verbosity, both are silenced here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

from absl import logging as absl_logging


class ConsoleFormatter(logging.Formatter):
    """`hubexport: <stage>: <seconds> s` for progress, `hubexport: warning: ...` for cautions."""

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"hubexport: {level}{record.getMessage()}"


def configure_console(verbose: bool) -> None:
    """Stage lines and warnings of the `hubexport` logger on stderr; TensorFlow's C++ and Python log
    lines and library warnings silenced unless `verbose`. Imports TensorFlow, so it runs first."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter())
    logger = logging.getLogger("hubexport")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    absl_logging.set_verbosity(absl_logging.ERROR)  # app.run set Python logging (TensorFlow's too) to INFO
    warnings.simplefilter("ignore")
    with native_stderr_to_devnull():
        import tensorflow  # noqa: F401
        import tensorflow_text  # noqa: F401


@contextlib.contextmanager
def native_stderr_to_devnull() -> Iterator[None]:
    """Points file descriptor 2 at /dev/null: TensorFlow's libraries print notices (oneDNN, CUDA, CPU
    features) from C++ while they load, before any log level applies."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
