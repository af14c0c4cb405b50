"""Timing: medians and spreads over repeated blocks, with the device synchronized at every read.

Latency times blocks of calls through ``torch.utils.benchmark.Timer`` (its synchronized clock
and thread count): blocks are sized from one call so that at least ``MIN_BLOCKS`` of them fit the
budget, and timing goes on until there are that many and their IQR is within 10% of the median,
or until the budget is spent. ``Timer.adaptive_autorange``, used before, sized its blocks for
0.05 s and stopped as soon as the budget was spent: on a busy machine one block of ten calls
took longer than a search trial's 0.5 s budget, and a single block was reported with an IQR of
0 and a p90 equal to the median. The thread count is ``torch.get_num_threads()``: Timer's
default of one thread made a CPU model look 1.8x slower (docs/profiling.md).

Throughput uses a timed loop over whole training or inference steps (timm's ``benchmark.py``):
steps of a CIFAR model on a GPU take milliseconds, so a block runs enough steps to last
``min_block_seconds``, and the figure is the median over ``repeats`` blocks. A single run is never
reported: the statistic is the median, with p90, the interquartile range and the number of
timed blocks beside it.

A timing is noisy when its blocks disagree (IQR above ``NOISY_SPREAD`` of the median), when too
few blocks were timed to tell, or when the machine was busy while it ran: other processes used
the cores the timing needed (``/proc/stat`` less this process's own CPU time), the 1-minute load
average was above the core count, or another process ran on the GPU (NVML). ``noise`` says
which, so that a table or a figure can mark the figure instead of showing it as fact.
"""

from __future__ import annotations

import logging
import math
import os
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

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


MIN_BLOCKS = 5  # fewer timed blocks cannot give a spread worth reporting
NOISY_SPREAD = 0.2  # IQR / median above which the blocks disagree too much to trust the median
_STOP_SPREAD = 0.1  # Timer.adaptive_autorange's threshold: stop early once the blocks agree
_BLOCK_SECONDS = 0.05  # a latency block lasts about this long (as in adaptive_autorange)


@dataclass(frozen=True)
class TimingStats:
    """Seconds per call over ``runs`` timed blocks: median, 90th percentile, interquartile range.

    Attributes:
        busy: why the machine was too busy to trust the timing, or None.
        seconds: the per-call time of each block, in timing order.
    """

    median: float
    p90: float
    iqr: float
    runs: int
    busy: str | None = None
    seconds: tuple[float, ...] = ()

    @classmethod
    def from_seconds(cls, seconds: Sequence[float], *, busy: str | None = None) -> TimingStats:
        """Statistics of per-call times (one per block), with linear interpolation."""
        if not seconds:
            raise ValueError("timing: no runs to summarize")
        q25, q50, q75, q90 = np.quantile(np.asarray(seconds, dtype=float), [0.25, 0.5, 0.75, 0.9])
        return cls(
            median=float(q50),
            p90=float(q90),
            iqr=float(q75 - q25),
            runs=len(seconds),
            busy=busy,
            seconds=tuple(float(value) for value in seconds),
        )

    def rate_iqr(self, amount: float) -> float:
        """Interquartile range of ``amount / seconds`` over the blocks (images/s from s/step)."""
        rates = [amount / value for value in self.seconds if value > 0]
        if not rates:
            return 0.0
        q25, q75 = np.quantile(np.asarray(rates), [0.25, 0.75])
        return float(q75 - q25)

    @property
    def spread(self) -> float:
        """IQR relative to the median."""
        return self.iqr / self.median if self.median > 0 else 0.0

    @property
    def noise(self) -> str | None:
        """Why the median should not be read as fact (None: it can be)."""
        reasons = []
        if self.runs < MIN_BLOCKS:
            reasons.append(f"{self.runs} timed blocks")
        if self.spread > NOISY_SPREAD:
            reasons.append(f"IQR {self.spread:.0%} of the median")
        if self.busy:
            reasons.append(self.busy)
        return "; ".join(reasons) or None


def _system_busy_seconds() -> float | None:
    """CPU seconds every process of the machine has run (``/proc/stat``), None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return None
    ticks = [int(value) for value in fields]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_sample() -> tuple[float, float | None, float]:
    """Wall clock, the machine's busy CPU seconds, and this process's CPU seconds."""
    times = os.times()
    return time.perf_counter(), _system_busy_seconds(), times.user + times.system


class LoadWatch:
    """How busy the machine was while a timing ran, from its start to ``busy()``.

    A CPU timing needs the cores its threads run on; a GPU timing needs one core to launch
    kernels, and the GPU to itself.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cores = os.cpu_count() or 1
        needed = torch.get_num_threads() if device.type == "cpu" else 1
        self.spare_cores = max(0, self.cores - min(needed, self.cores))
        self.start = _cpu_sample()

    def busy(self) -> str | None:
        """Why the machine was busy since the start, or None."""
        (wall_start, system_start, own_start), (wall_end, system_end, own_end) = (
            self.start,
            _cpu_sample(),
        )
        wall = wall_end - wall_start
        if system_start is not None and system_end is not None and wall > 0:
            others = (system_end - system_start - (own_end - own_start)) / wall
            if others > self.spare_cores + 0.5:
                return f"other processes used {others:.1f} of {self.cores} cores"
        load = os.getloadavg()[0]
        if load > self.cores:
            return f"load average {load:.1f} > {self.cores} cores"
        if self.device.type == "cuda":
            neighbours = gpu_neighbours(self.device)
            if neighbours:
                return f"other processes on the GPU (pid {', '.join(map(str, neighbours))})"
        return None


def gpu_neighbours(device: torch.device) -> list[int]:
    """Process ids other than ours that run on the CUDA ``device``; empty where NVML cannot
    tell (not installed, no driver, a MIG slice)."""
    from archbench.hwprofile._device import NvmlDevice
    from archbench.hwprofile._result import Unavailable

    try:
        nvml = NvmlDevice(device)
    except Unavailable:
        return []
    with nvml:
        return [pid for pid in nvml.process_ids() if pid != os.getpid()]


def time_latency(
    fn: Callable[[], object],
    device: torch.device,
    *,
    min_run_time: float,
    max_run_time: float,
    min_blocks: int = MIN_BLOCKS,
) -> TimingStats:
    """Per-call time of ``fn`` over at least ``min_blocks`` timed blocks.

    One call (which warms up too) sizes the blocks: as many calls as last ``_BLOCK_SECONDS``,
    fewer when that would not leave room for ``min_blocks`` blocks in ``max_run_time``, and at
    least one. Blocks are then timed until there are ``min_blocks``, ``min_run_time`` has passed
    and their IQR is within 10% of the median, or until ``max_run_time``; a call slower than
    the budget still gets ``min_blocks`` blocks, because one block has no spread. The clock
    synchronizes ``device`` itself: Timer's default synchronizes only the current CUDA device,
    which stays cuda:0 while we measure cuda:1, and on CPU it would wait for an accelerator
    that is not the one we measure.
    """
    timer = Timer(
        stmt="fn()",
        globals={"fn": fn},
        num_threads=torch.get_num_threads(),
        timer=synchronized_clock(device),
    )
    watch = LoadWatch(device)
    one_call = timer.timeit(1).times[0]
    block_seconds = min(_BLOCK_SECONDS, max_run_time / (2 * min_blocks))
    number = max(1, int(block_seconds / max(one_call, 1e-9)))
    seconds: list[float] = []
    total = 0.0
    while True:
        block = timer.timeit(number)
        seconds.append(block.times[0])
        total += block.raw_times[0]
        if len(seconds) < min_blocks:
            continue
        if total >= max_run_time:
            break
        if total >= min_run_time and TimingStats.from_seconds(seconds).spread <= _STOP_SPREAD:
            break
    return TimingStats.from_seconds(seconds, busy=watch.busy())


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
    watch = LoadWatch(device)
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
    return TimingStats.from_seconds(seconds, busy=watch.busy())
