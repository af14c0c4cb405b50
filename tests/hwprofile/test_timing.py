"""Timing statistics and the two timing loops."""

from __future__ import annotations

import time

import pytest
import torch

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
    assert block >= 5 and len(calls) == 1 + 3 * block  # the warm-up step sized the blocks
    assert stats.median >= 0.001


def test_steps_without_warmup_time_one_step_per_block() -> None:
    calls = []
    time_steps(lambda: calls.append(None), CPU, warmup=0, repeats=2, min_block_seconds=1.0)
    assert len(calls) == 2
