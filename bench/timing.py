"""Timing helpers: wall-clock measurement, medians, a per-measurement time limit, the machine."""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import signal
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class Timeout(Exception):
    """A measurement ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``Timeout`` in the main thread after ``seconds`` (a C call finishes first: z3's own
    queries are bounded by dimsolve's solver budget, so the delay is at most that budget)."""
    if seconds <= 0:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise Timeout(f"over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Measure:
    """Wall time (median and best of the repeats) and CPU time of this process (median, all threads).

    The machine is shared: when other processes compete for the cores, wall time grows but the
    process's own CPU time does not, so both are kept.
    """

    wall_s: float
    best_s: float
    cpu_s: float

    def put(self, row: dict[str, Any], key: str) -> None:
        row[f"{key}_s"], row[f"{key}_best_s"], row[f"{key}_cpu_s"] = self.wall_s, self.best_s, self.cpu_s


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of one call, after a garbage collection so earlier work is not billed."""
    seconds, _, result = _one(fn)
    return seconds, result


def _one(fn: Callable[[], T]) -> tuple[float, float, T]:
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    result = fn()
    return time.perf_counter() - start, time.process_time() - cpu, result


def measure(fn: Callable[[], T], repeats: int) -> tuple[Measure, T]:
    """Time ``repeats`` calls; the ``Measure`` and the last result."""
    walls, cpus = [], []
    result: Any = None
    for _ in range(max(1, repeats)):
        wall, cpu, result = _one(fn)
        walls.append(wall)
        cpus.append(cpu)
    return Measure(statistics.median(walls), min(walls), statistics.median(cpus)), result


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu"] = names[0] if names else ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        info["memory_gb"] = round(int(f.readline().split()[1]) / 2**20, 1)
    for package in ("transformers", "z3", "sympy"):
        with contextlib.suppress(Exception):
            module = __import__(package)
            info[package] = module.get_version_string() if package == "z3" else module.__version__
    return info
