"""The trial runner: children of its own, epoch deadlines, and what a failed trial keeps."""

from __future__ import annotations

import gc
import multiprocessing
import time
import weakref
from pathlib import Path

import pytest

from archbench.models import ModelConfig, get_preset
from archbench.search import TrialOutcome
from archbench.search._evaluate import ProxyTraining, TrialData
from archbench.search._trial import (
    OnProfile,
    Report,
    ShouldStop,
    TrialContext,
    TrialError,
    TrialRunner,
)
from tests.search.conftest import tiny_settings


def _config() -> ModelConfig:
    return get_preset("simple_cnn").with_data(num_classes=10, in_channels=1, input_size=28)


def _exit_zero() -> None:
    return None


def starts_a_probe_child(
    cfg: ModelConfig,
    context: TrialContext,
    data: TrialData,
    report: Report,
    stop: ShouldStop,
    on_profile: OnProfile | None,
) -> TrialOutcome:
    """What the measured max batch does inside a trial: start a process of its own."""
    probe = multiprocessing.get_context("spawn").Process(target=_exit_zero)
    probe.start()
    probe.join()
    report(1, {"epoch": 1, "val_accuracy": 0.5})
    return TrialOutcome([{"epoch": 1, "val_accuracy": 0.5}], 0.5, 1)


def hangs(
    cfg: ModelConfig,
    context: TrialContext,
    data: TrialData,
    report: Report,
    stop: ShouldStop,
    on_profile: OnProfile | None,
) -> TrialOutcome:
    time.sleep(600)
    raise AssertionError("unreachable")


def test_a_trial_process_may_start_a_probe_process(tiny_space: Path, tmp_path: Path) -> None:
    settings = tiny_settings(tiny_space, f"sqlite:///{tmp_path}/s.db", 1, isolation="process")
    training = ProxyTraining(TrialContext.of(settings), body=starts_a_probe_child)
    runner = TrialRunner(settings, training)
    outcome = runner.run(_config(), lambda epoch, metrics: None, lambda: False)
    assert outcome.epochs_trained == 1


def test_a_hung_trial_process_is_killed_at_the_epoch_deadline(
    tiny_space: Path, tmp_path: Path
) -> None:
    settings = tiny_settings(
        tiny_space, f"sqlite:///{tmp_path}/s.db", 1, isolation="process",
        epoch_timeout_seconds=20.0,
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(TrialError, match=r"no epoch finished within 20 s"):
        runner = TrialRunner(settings, ProxyTraining(TrialContext.of(settings), body=hangs))
        runner.run(_config(), lambda e, m: None, lambda: False)
    assert time.monotonic() - started < 120
    assert not multiprocessing.active_children()


def test_an_inline_failure_keeps_no_reference_to_the_trial(
    tiny_space: Path, tmp_path: Path
) -> None:
    """The raised TrialError carries the reason only, not the traceback with the model."""
    import torch

    settings = tiny_settings(tiny_space, f"sqlite:///{tmp_path}/s.db", 1, isolation="inline")
    refs: list[weakref.ref] = []

    def fails(cfg, settings, data, report, stop, on_profile):  # type: ignore[no-untyped-def]
        model = torch.nn.Linear(4, 4)
        refs.append(weakref.ref(model))
        raise RuntimeError("CUDA out of memory (simulated)")

    with pytest.raises(TrialError, match="out of memory") as caught:
        runner = TrialRunner(settings, ProxyTraining(TrialContext.of(settings), body=fails))
        runner.run(_config(), lambda e, m: None, lambda: False)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    gc.collect()
    assert refs[0]() is None, "the failed trial's model is still alive"
