"""The trial runner: children of its own, epoch deadlines, and what a failed trial keeps."""

from __future__ import annotations

import gc
import multiprocessing
import time
import weakref
from collections.abc import Callable

import pytest

from archbench.evaluators import (
    OnProfile,
    Report,
    ShouldStop,
    TrialError,
    TrialOutcome,
    TrialRunner,
)
from archbench.models import ModelConfig, get_preset


def _config() -> ModelConfig:
    return get_preset("simple_cnn").with_data(num_classes=10, in_channels=1, input_size=28)


def _exit_zero() -> None:
    return None


class _Scripted:
    """An evaluator that does ``action`` in place of training, then reports one epoch.

    At module level, so that a trial's child process receives it.
    """

    def __init__(self, action: Callable[[], None], *, in_child_process: bool = True) -> None:
        self.action = action
        self.in_child_process = in_child_process

    def release(self) -> None:
        gc.collect()

    def __call__(
        self,
        cfg: ModelConfig,
        report: Report,
        should_stop: ShouldStop,
        on_profile: OnProfile | None = None,
    ) -> TrialOutcome:
        self.action()
        report(1, {"epoch": 1, "val_accuracy": 0.5})
        return TrialOutcome([{"epoch": 1, "val_accuracy": 0.5}], 0.5, 1)


def starts_a_probe_child() -> None:
    """What the measured max batch does inside a trial: start a process of its own."""
    probe = multiprocessing.get_context("spawn").Process(target=_exit_zero)
    probe.start()
    probe.join()


def hangs() -> None:
    time.sleep(600)


def test_a_trial_process_may_start_a_probe_process() -> None:
    runner = TrialRunner(_Scripted(starts_a_probe_child))
    outcome = runner.run(_config(), lambda epoch, metrics: None, lambda: False)
    assert outcome.epochs_trained == 1


def test_a_hung_trial_process_is_killed_at_the_epoch_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(TrialError, match=r"no epoch finished within 10 s"):
        TrialRunner(_Scripted(hangs), epoch_timeout_seconds=10.0).run(
            _config(), lambda e, m: None, lambda: False
        )
    assert time.monotonic() - started < 25  # killed at the deadline, not after a grace
    assert not multiprocessing.active_children()


def test_an_inline_failure_keeps_no_reference_to_the_trial() -> None:
    """The raised TrialError carries the reason only, not the traceback with the model."""
    import torch

    refs: list[weakref.ref] = []

    def fails() -> None:
        model = torch.nn.Linear(4, 4)
        refs.append(weakref.ref(model))
        raise RuntimeError("CUDA out of memory (simulated)")

    with pytest.raises(TrialError, match="out of memory") as caught:
        runner = TrialRunner(_Scripted(fails, in_child_process=False))
        runner.run(_config(), lambda e, m: None, lambda: False)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    gc.collect()
    assert refs[0]() is None, "the failed trial's model is still alive"
