"""How busy the machine is while a benchmark runs, and re-measuring when it was too busy.

Other processes on a 2-core machine distort timings (PyTorch's OpenMP threads suffer most), so
each measurement records the 1-minute load average before and after, and a measurement taken
above `max_load` is repeated (up to `retries` times); the one with the lowest load is kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def load_average() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def measure_quietly(
    measure: Callable[[], T], max_load: float, retries: int, pause_seconds: float = 20.0
) -> tuple[T, float, int]:
    """Runs `measure` until the load average stays <= `max_load` (or `retries` runs are used up).

    Returns the result measured at the lowest load, that load (the larger of the before/after
    averages) and the number of runs made.
    """
    best: tuple[T, float] | None = None
    runs = 0
    for attempt in range(retries + 1):
        before = load_average()
        result = measure()
        load = max(before, load_average())
        runs += 1
        if best is None or load < best[1]:
            best = (result, load)
        if load <= max_load:
            break
        if attempt < retries:
            print(f"  load average {load:.1f} > {max_load}: measuring again in {pause_seconds:.0f} s", flush=True)
            time.sleep(pause_seconds)
    return best[0], best[1], runs
