"""Timing: medians and spreads over repeated blocks, with the device synchronized at every read.

Latency uses ``torch.utils.benchmark.Timer.adaptive_autorange``: it sizes blocks so the
clock's overhead is negligible, synchronizes the accelerator before each clock read, repeats
until the spread is small, and runs with the thread count we give it. Its default of one
thread made a CPU model look 1.8x slower in the research note (anchors-profiling section 4),
so we pass ``torch.get_num_threads()``.

Throughput uses a timed loop over whole training or inference steps (timm's ``benchmark.py``):
steps of a CIFAR model on a GPU take milliseconds, so a block runs enough steps to last
``min_block_seconds``, and the figure is the median over ``repeats`` blocks. A single run is never
reported: the statistic is the median, with p90 and the interquartile range beside it.
"""

from __future__ import annotations

import logging
import math
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from archbench.hwprofile._device import synchronize

# Importing the benchmark utilities imports torch.utils.cpp_extension, which logs "No CUDA
# runtime is found" on every CPU-only machine with a CUDA build of torch; it is not our concern.
_cpp_extension_log = logging.getLogger("torch.utils.cpp_extension")
_level = _cpp_extension_log.level
_cpp_extension_log.setLevel(logging.ERROR)
from torch.utils.benchmark import Timer  # noqa: E402

_cpp_extension_log.setLevel(_level)


@dataclass(frozen=True)
class TimingStats:
    """Seconds per call: median, 90th percentile and interquartile range over ``runs`` blocks."""

    median: float
    p90: float
    iqr: float
    runs: int

    @classmethod
    def from_seconds(cls, seconds: Sequence[float]) -> TimingStats:
        """Statistics of per-call times (one per block), with linear interpolation."""
        if not seconds:
            raise ValueError("timing: no runs to summarize")
        q25, q50, q75, q90 = np.quantile(np.asarray(seconds, dtype=float), [0.25, 0.5, 0.75, 0.9])
        return cls(median=float(q50), p90=float(q90), iqr=float(q75 - q25), runs=len(seconds))


def time_latency(
    fn: Callable[[], object],
    device: torch.device,
    *,
    min_run_time: float,
    max_run_time: float,
    min_runs: int = 5,
) -> TimingStats:
    """Per-call time of ``fn`` from ``Timer.adaptive_autorange``.

    It sizes its blocks (which warms up too), then times blocks until there are more than 3
    and their IQR is within 10% of the median after ``min_run_time``, or until the time limit.
    The limit is ``max_run_time``, raised to about ``min_runs`` calls when one call takes longer
    (seen on a loaded machine: a single 0.7 s run, reported with an IQR of 0). The clock
    synchronizes ``device`` itself: Timer's default synchronizes only the current CUDA device,
    which stays cuda:0 while we measure cuda:1, and on CPU it would wait for an accelerator
    that is not the one we measure.
    """
    limit = max(max_run_time, min_runs * time_call(fn, device))
    timer = Timer(
        stmt="fn()",
        globals={"fn": fn},
        num_threads=torch.get_num_threads(),
        timer=synchronized_clock(device),
    )
    measurement = timer.adaptive_autorange(min_run_time=min_run_time, max_run_time=limit)
    return TimingStats.from_seconds(measurement.times)


def synchronized_clock(device: torch.device) -> Callable[[], float]:
    """A clock that waits for ``device``'s queued work before each read."""

    def clock() -> float:
        synchronize(device)
        return timeit.default_timer()

    return clock


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Wall seconds of one synchronized call."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def time_steps(
    step: Callable[[], object],
    device: torch.device,
    *,
    warmup: int,
    repeats: int,
    min_block_seconds: float,
) -> TimingStats:
    """Seconds per step over ``repeats`` synchronized blocks, after ``warmup`` untimed steps.

    The last warm-up step sizes the blocks; without warm-up (the caller already ran the step
    with these exact shapes) a block is one step, which suits CPU steps that take 0.1 s or more.
    """
    block = 1
    for _ in range(warmup):
        block = max(1, math.ceil(min_block_seconds / max(time_call(step, device), 1e-9)))
    seconds = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(block):
            step()
        synchronize(device)
        seconds.append((time.perf_counter() - start) / block)
    return TimingStats.from_seconds(seconds)
