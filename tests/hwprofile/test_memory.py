"""The live-storage tracker and its replay, on hand-made allocation sequences; process RSS."""

from __future__ import annotations

import sys

import pytest
import torch

from archbench.hwprofile._memory import (
    BLOCK_BYTES,
    Event,
    StorageTracker,
    block_bytes,
    peak_rss_bytes,
    replay,
    reset_peak_rss,
    trace_infer_step,
    trace_train_step,
)
from archbench.hwprofile._result import MemoryPrediction
from archbench.hwprofile._workload import Workload
from archbench.models import get_preset

KIB = 1024


def test_replay_counts_the_peak_of_live_bytes_rounded_to_blocks() -> None:
    events = [
        Event("alloc", 0, 1000, "params"),  # 1024 after rounding
        Event("alloc", 1, 2 * KIB, "activations"),  # an earlier, lower peak: 3 KiB
        Event("free", 1),
        Event("alloc", 2, 1, "activations"),  # 512
        Event("alloc", 3, 3 * KIB, "gradients"),
    ]
    assert replay(events) == MemoryPrediction(
        params=KIB, gradients=3 * KIB, optimizer_state=0, activations=512, total=4608,
        steady_gradients=3 * KIB, steady_optimizer_state=0,
    )  # fmt: skip


def test_replay_keeps_the_steady_sizes_apart_from_the_peak() -> None:
    """The peak comes while gradients are half made; their full size is reported beside it."""
    events = [
        Event("alloc", 0, 4 * KIB, "activations"),  # saved for backward
        Event("alloc", 1, KIB, "gradients"),  # the peak: 5 KiB, one gradient of two
        Event("free", 0),
        Event("alloc", 2, KIB, "gradients"),
        Event("alloc", 3, 2 * KIB, "optimizer_state"),
    ]
    peak = replay(events)
    assert (peak.total, peak.gradients, peak.optimizer_state) == (5 * KIB, KIB, 0)
    assert (peak.steady_gradients, peak.steady_optimizer_state) == (2 * KIB, 2 * KIB)


def test_replay_moves_relabelled_bytes_between_categories() -> None:
    events = [
        Event("alloc", 0, 2 * KIB, "activations"),
        Event("label", 0, 0, "gradients"),
        Event("alloc", 1, KIB, "optimizer_state"),
    ]
    peak = replay(events)
    assert (peak.gradients, peak.activations, peak.optimizer_state) == (2 * KIB, 0, KIB)


def test_tracker_follows_storages_not_tensors() -> None:
    """Views and in-place results share a storage and count once; a freed storage stops
    counting; a registered tensor keeps the label it was given."""
    weight = torch.zeros(256)  # 1 KiB
    tracker = StorageTracker()
    tracker.track(weight, "params")
    with tracker:
        hidden = torch.ones(1024) * 2  # 4 KiB (ones is freed right away)
        view = hidden.view(32, 32).t()
        view.add_(1)
        weight.add_(1)  # in place on a parameter: still a parameter
        del hidden, view
        extra = torch.empty(64)  # 256 B, rounded to 512
    kinds = [event.kind for event in tracker.events]
    assert kinds.count("alloc") == 4  # weight, ones, product, empty
    assert "label" not in kinds
    peak = replay(tracker.events)
    assert peak.params == KIB
    assert peak.total == KIB + 4 * KIB + 4 * KIB  # weight, the ones, and their product
    assert extra.numel() == 64


def test_tracker_relabels_a_known_storage_when_asked() -> None:
    tracker = StorageTracker()
    with tracker:
        grad = torch.zeros(128)
        tracker.track(grad, "gradients")
    assert tracker.events[-1] == Event("label", 0, 0, "gradients")
    assert replay(tracker.events).gradients == BLOCK_BYTES


def test_training_counts_the_optimizer_state_and_inference_does_not() -> None:
    workload = Workload(get_preset("simple_cnn"), "cpu", optimizer="adamw")
    images, labels = workload.batch(4)
    model_bytes = block_bytes([*workload.model.parameters(), *workload.model.buffers()])
    state_bytes = block_bytes(workload.optimizer_state())
    assert state_bytes > 2 * model_bytes * 0.95  # two moments per parameter, and the steps
    train = replay(trace_train_step(workload, images, labels))
    assert (train.params, train.optimizer_state) == (model_bytes, state_bytes)
    weights = block_bytes(list(workload.model.parameters()))
    assert (train.steady_gradients, train.steady_optimizer_state) == (weights, state_bytes)
    infer = replay(trace_infer_step(workload, images))
    assert (infer.params, infer.optimizer_state, infer.gradients) == (model_bytes, 0, 0)
    assert infer.total < train.total


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_peak_rss_resets_and_sees_a_new_allocation() -> None:
    reset_peak_rss()
    before = peak_rss_bytes()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    after = peak_rss_bytes()
    assert after - before >= 60 * 2**20
    del block
    reset_peak_rss()
    assert peak_rss_bytes() < after
