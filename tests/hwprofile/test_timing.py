"""Timing statistics and the two timing loops."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import torch

from archbench.hwprofile import _timing
from archbench.hwprofile._timing import (
    MIN_BLOCKS,
    LoadWatch,
    TimingStats,
    time_latency,
    time_steps,
)

CPU = torch.device("cpu")


def test_stats_are_quantiles_of_the_runs() -> None:
    stats = TimingStats.from_seconds([5.0, 1.0, 2.0, 3.0, 4.0])
    assert (stats.median, stats.iqr, stats.runs) == (3.0, 2.0, 5)
    assert stats.p90 == pytest.approx(4.6)


def test_stats_need_a_run() -> None:
    with pytest.raises(ValueError, match="no runs"):
        TimingStats.from_seconds([])


def test_latency_repeats_and_orders_its_quantiles() -> None:
    calls = []
    stats = time_latency(
        lambda: calls.append(time.sleep(0.002)), CPU, min_run_time=0.02, max_run_time=1.0
    )
    assert stats.runs >= 4
    assert 0.002 <= stats.median <= stats.p90
    assert stats.iqr >= 0.0
    assert len(calls) >= stats.runs


def test_latency_of_a_call_slower_than_the_budget_still_repeats() -> None:
    stats = time_latency(lambda: time.sleep(0.03), CPU, min_run_time=0.001, max_run_time=0.01)
    assert stats.runs >= 3


def test_steps_run_warmup_then_timed_blocks() -> None:
    calls = []
    stats = time_steps(
        lambda: calls.append(time.sleep(0.001)), CPU, warmup=1, repeats=3, min_block_seconds=0.01
    )
    assert stats.runs == 3
    block = (len(calls) - 1) // 3
    assert block >= 1 and len(calls) == 1 + 3 * block  # the warm-up step sized the blocks
    assert stats.median >= 0.001


def test_steps_without_warmup_time_one_step_per_block() -> None:
    calls = []
    time_steps(lambda: calls.append(None), CPU, warmup=0, repeats=2, min_block_seconds=1.0)
    assert len(calls) == 2


def test_latency_synchronizes_the_measured_device_not_the_current_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On cuda:1 every clock read must wait for cuda:1 (Timer's default waits for the current
    device, cuda:0). The synchronize seam records which device each read waits for."""
    synced: list[torch.device] = []
    monkeypatch.setattr(_timing, "synchronize", synced.append)
    second_gpu = torch.device("cuda", 1)
    stats = time_latency(lambda: time.sleep(0.001), second_gpu, min_run_time=0.01, max_run_time=0.2)
    assert stats.runs >= 3
    assert len(synced) >= 2 * stats.runs and set(synced) == {second_gpu}


@pytest.mark.cuda
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_latency_on_the_second_gpu_waits_for_its_kernels() -> None:
    second = torch.device("cuda", 1)
    weight = torch.randn(4096, 4096, device=second)
    stats = time_latency(lambda: weight @ weight, second, min_run_time=0.05, max_run_time=0.5)
    # 137 GFLOP per call: no GPU finishes it in under 10 us, which an unsynced clock would show.
    assert stats.median > 1e-5


def test_a_timing_is_noise_with_few_blocks_a_wide_spread_or_a_busy_machine() -> None:
    assert TimingStats.from_seconds([1.0] * MIN_BLOCKS).noise is None
    assert TimingStats.from_seconds([1.0]).noise == "1 timed blocks"
    wide = TimingStats.from_seconds([1.0, 2.0, 1.0, 2.0, 1.0])
    assert wide.spread == pytest.approx(1.0) and "IQR 100% of the median" in str(wide.noise)
    busy = TimingStats.from_seconds([1.0] * MIN_BLOCKS, busy="load average 9.0 > 2 cores")
    assert busy.noise == "load average 9.0 > 2 cores"


def test_throughput_spread_is_the_iqr_of_the_block_rates() -> None:
    stats = TimingStats.from_seconds([0.5, 1.0, 1.0, 1.0, 2.0])
    assert stats.rate_iqr(10.0) == pytest.approx(0.0)
    assert TimingStats.from_seconds([0.5, 0.5, 1.0, 2.0, 2.0]).rate_iqr(10.0) == pytest.approx(15)


def test_calls_that_slow_down_after_the_first_still_get_min_blocks() -> None:
    """A search trial stored one block (IQR 0, p90 = median): a block sized while the machine
    was quiet outlasted the budget once it was busy. Every latency has MIN_BLOCKS blocks."""
    calls = []

    def slowing() -> None:
        calls.append(None)
        time.sleep(0.001 if len(calls) <= 2 else 0.2)

    stats = time_latency(slowing, CPU, min_run_time=0.05, max_run_time=0.5)
    assert stats.runs >= MIN_BLOCKS
    assert len(stats.seconds) == stats.runs


@pytest.fixture
def every_core() -> Iterator[None]:
    """The timing's threads need every core, so that one busy core competes with them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("every_core")
def test_a_deliberately_loaded_core_marks_the_timing_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))  # only the busy core counts
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        stats = time_latency(lambda: time.sleep(0.01), CPU, min_run_time=0.3, max_run_time=0.6)
    finally:
        spinner.kill()
        spinner.wait()
    assert stats.busy is not None and stats.busy.startswith("other processes used")
    assert stats.noise is not None and stats.busy in stats.noise


def test_a_quiet_machine_is_not_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other processes' CPU time is the machine's less ours: our own work is no load."""
    samples = iter([(0.0, 100.0, 10.0), (1.0, 101.0, 10.9)])  # 1 s: 1 CPU s, 0.9 of it ours
    monkeypatch.setattr(_timing, "_cpu_sample", lambda: next(samples))
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    assert LoadWatch(CPU).busy() is None


def test_a_load_average_above_the_cores_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_timing, "_cpu_sample", lambda: (0.0, None, 0.0))
    monkeypatch.setattr(os, "getloadavg", lambda: (64.0, 0.0, 0.0))
    assert str(LoadWatch(CPU).busy()).startswith("load average 64.0 >")


def test_another_process_on_the_gpu_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_timing, "_cpu_sample", lambda: (0.0, None, 0.0))
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(_timing, "gpu_neighbours", lambda device: [4242])
    assert LoadWatch(torch.device("cuda", 0)).busy() == "other processes on the GPU (pid 4242)"
