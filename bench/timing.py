"""Interleaved timing shared by the benchmark scripts.

The machine is noisy, so candidates are measured in alternating rounds within one process and
compared by the median of their rounds, never by one long run each.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence


def fresh_batches(batches: list[list[str]], call: Callable[[list[str]], object]) -> Callable[[], object]:
    """A zero-argument runner that calls `call` on the next batch each time: every call of a
    candidate gets a batch it has not seen before."""
    iterator: Iterator[list[str]] = iter(batches)
    return lambda: call(next(iterator))


def interleaved_medians(
    candidates: dict[str, Callable[[], object]], rounds: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Seconds per call of each candidate: the median over `rounds` interleaved rounds.

    Rounds alternate the candidates' order (A B, B A, A B, ...), so that no candidate always runs
    right after another one: a call is slowed by the threads and caches the previous call leaves
    behind, and which call that is must not depend on the candidate.
    """
    for _ in range(warmup):
        for run in candidates.values():
            run()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    order = list(candidates.items())
    for round_index in range(rounds):
        for name, run in order if round_index % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Prints a plain fixed-width table."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    print(title)
    for row in [header, *rows]:
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths)))


def write_json(path: str | pathlib.Path, payload: dict) -> None:
    """Writes the benchmark's results as indented JSON, creating the folder."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
