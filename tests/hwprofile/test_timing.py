"""Timing statistics and the two timing loops."""

from __future__ import annotations

import time

import pytest
import torch

from archbench.hwprofile import _timing
from archbench.hwprofile._timing import TimingStats, time_latency, time_steps

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
