"""Timing one scenario: wall clock, this process's CPU and the simulator's CPU, repeated, as medians.

Following the exchangelib-performance reference: one warm-up, then ``repeats`` timed runs; each
figure is the median of the runs. CPU is process CPU (every thread): ``time.process_time`` for the
client when it runs here, ``/proc`` for the router's or the simulator's process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from router.harness.procstat import own_cpu

CpuReader = Callable[[], float]


@dataclass(frozen=True)
class Sample:
    """One timed run: how many items, and the seconds of wall clock and of each side's CPU."""

    items: int
    wall: float
    client_cpu: float
    server_cpu: float


def timed(run: Callable[[], int], server_cpu: CpuReader, client_cpu: CpuReader = own_cpu) -> Sample:
    """Run ``run`` (which returns how many items it handled) once, timing both sides."""
    wall0, client0, server0 = time.perf_counter(), client_cpu(), server_cpu()
    items = run()
    return Sample(items, time.perf_counter() - wall0, client_cpu() - client0, server_cpu() - server0)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
