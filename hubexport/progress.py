"""Progress of an export as log records of the `hubexport` logger: one per stage, with its time.

Library code never prints. Each finished stage (read checkpoint, build, trace, save, probe, move
into place) is an INFO record `"<stage>: <seconds> s"`; a caution is a WARNING record. The command
line shows them as `hubexport: <stage> ... s` and `hubexport: warning: ...`; a Python caller sees
the warnings through logging's default handler and can attach its own handler for the rest.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

LOGGER = logging.getLogger("hubexport")


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Logs `name` and the seconds the `with` body took, once the body has finished without error."""
    start = time.perf_counter()
    yield
    LOGGER.info("%s: %.1f s", name, time.perf_counter() - start)


def warn(message: str) -> None:
    """A caution about the export (random weights, a fallback taken) that does not stop it."""
    LOGGER.warning(message)
