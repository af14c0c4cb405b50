"""The training loop: reports and stops, catches NaN, schedules, checkpoints, resumes exactly."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from archbench.data import Dataset
from archbench.models import build_model
from archbench.train import (
    CHECKPOINT_FILE,
    NonFiniteLossError,
    TrainRecipe,
    load_checkpoint,
    train_model,
)
from archbench.train._loop import _make_scheduler, amp_dtype_for, cuda_training_flags
from tests.train.conftest import METRIC_NAMES, TINY_CONFIG, TINY_RECIPE

Data = tuple[Dataset, Dataset]


class Interrupted(Exception):
    """Stands in for a killed process."""


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"optimizer": "adamw", "lr": 3e-3, "schedule": "onecycle", "warmup_epochs": 0},
        {"optimizer": "sgd", "schedule": "step", "milestones": (1,), "grad_clip": 1.0},
    ],
    ids=["sgd_nesterov-cosine-warmup", "adamw-onecycle", "sgd-step-clip"],
)
def test_reports_every_epoch_and_stops_when_asked(tiny_data: Data, changes: dict) -> None:
    reports: list[tuple[int, dict[str, float]]] = []
    recipe = dataclasses.replace(TINY_RECIPE, **changes)
    result = train_model(
        TINY_CONFIG,
        recipe,
        train_data=tiny_data[0],
        val_data=tiny_data[1],
        report=lambda epoch, metrics: reports.append((epoch, metrics)),
        should_stop=lambda: len(reports) == 3,
    )
    assert [epoch for epoch, _ in reports] == [1, 2, 3]
    assert result.stopped_early and result.epochs_trained == 3
    assert result.history == [metrics for _, metrics in reports]
    for epoch, metrics in reports:
        assert list(metrics) == METRIC_NAMES
        assert metrics["epoch"] == epoch
        assert 0 <= metrics["train_accuracy"] <= 1 and 0 <= metrics["val_accuracy"] <= 1
        assert math.isfinite(metrics["train_loss"]) and metrics["val_loss"] > 0
        assert metrics["seconds"] > 0 and metrics["images_per_second"] > 0
    assert result.final_val_accuracy == reports[-1][1]["val_accuracy"]
    assert result.best_val_accuracy == max(m["val_accuracy"] for _, m in reports)


def test_trains_every_epoch_and_learns(tiny_data: Data) -> None:
    recipe = dataclasses.replace(TINY_RECIPE, epochs=8, lr=0.2)
    result = train_model(TINY_CONFIG, recipe, train_data=tiny_data[0], val_data=tiny_data[1])
    assert result.epochs_trained == 8 and not result.stopped_early
    assert result.seconds == pytest.approx(sum(m["seconds"] for m in result.history))
    # The bright quadrant is easy: chance is 25%.
    assert result.best_val_accuracy >= 0.5


def test_early_stopping_waits_patience_epochs_after_the_best(tiny_data: Data) -> None:
    # Without batch norm and with a vanishing learning rate, predictions never change: the first
    # epoch stays the best, so patience 2 ends the run after epoch 3.
    cfg = dataclasses.replace(TINY_CONFIG, batch_norm=False)
    recipe = dataclasses.replace(TINY_RECIPE, lr=1e-12, epochs=10, early_stopping=2)
    result = train_model(cfg, recipe, train_data=tiny_data[0], val_data=tiny_data[1])
    assert result.epochs_trained == 3 and result.stopped_early


def test_exploding_loss_raises_naming_epoch_and_step(tiny_data: Data) -> None:
    recipe = dataclasses.replace(TINY_RECIPE, optimizer="sgd", lr=1e30, warmup_epochs=0)
    with pytest.raises(NonFiniteLossError, match=r"at epoch 1, step \d") as error:
        train_model(TINY_CONFIG, recipe, train_data=tiny_data[0], val_data=tiny_data[1])
    assert error.value.epoch == 1 and error.value.step >= 2


class _NaNAfter(nn.Module):
    """Wraps a model and returns NaN logits from its ``bad_call``-th training forward on."""

    def __init__(self, model: nn.Module, bad_call: int) -> None:
        super().__init__()
        self.model, self.bad_call, self.calls = model, bad_call, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        self.calls += self.training
        return logits * float("nan") if self.training and self.calls >= self.bad_call else logits


def test_nan_output_is_caught_at_its_exact_step(
    tiny_data: Data, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        "archbench.train._loop.build_model", lambda cfg: _NaNAfter(build_model(cfg), 6)
    )
    with pytest.raises(NonFiniteLossError) as error:
        train_model(
            TINY_CONFIG,
            TINY_RECIPE,
            train_data=tiny_data[0],
            val_data=tiny_data[1],
            out_dir=tmp_path,
        )
    assert (error.value.epoch, error.value.step) == (2, 2)  # 4 steps per epoch: call 6
    assert load_checkpoint(tmp_path / CHECKPOINT_FILE)["epoch"] == 1  # the last good epoch


def test_data_that_do_not_fit_the_config_are_refused(tiny_data: Data) -> None:
    cfg = dataclasses.replace(TINY_CONFIG, num_classes=10)
    with pytest.raises(ValueError, match=r"train_data: synthetic has .* cfg\.with_data"):
        train_model(cfg, TINY_RECIPE, train_data=tiny_data[0], val_data=tiny_data[1])


def test_fp16_on_cpu_is_ignored_with_a_warning(tiny_data: Data) -> None:
    recipe = dataclasses.replace(TINY_RECIPE, amp="fp16", epochs=1)
    with pytest.warns(UserWarning, match="amp 'fp16' is only used on CUDA"):
        result = train_model(TINY_CONFIG, recipe, train_data=tiny_data[0], val_data=tiny_data[1])
    assert result.settings["amp"] is None


@pytest.mark.parametrize(
    ("amp", "device_type", "native_bf16", "expected"),
    [
        ("auto", "cpu", False, None),
        ("auto", "cuda", True, torch.bfloat16),
        ("auto", "cuda", False, torch.float16),
        ("bf16", "cpu", False, torch.bfloat16),
        ("bf16", "cuda", True, torch.bfloat16),
        ("fp16", "cuda", True, torch.float16),
        ("none", "cuda", True, None),
    ],
)
def test_amp_resolves_per_device(
    amp: str, device_type: str, native_bf16: bool, expected: torch.dtype | None
) -> None:
    assert amp_dtype_for(amp, device_type, native_bf16=native_bf16) == expected


def test_fast_path_fields_default_to_auto_and_refuse_other_values() -> None:
    recipe = TrainRecipe.from_dict({"compile": True})
    assert (recipe.amp, recipe.memory_format, recipe.compile) == ("auto", "auto", True)
    with pytest.raises(ValueError, match="memory_format"):
        TrainRecipe.from_dict({"memory_format": "nhwc"})
    with pytest.raises(ValueError, match="amp"):
        TrainRecipe.from_dict({"amp": "fp8"})


def test_bf16_is_refused_where_the_gpu_only_emulates_it() -> None:
    with pytest.raises(ValueError, match="only emulates bf16"):
        amp_dtype_for("bf16", "cuda", native_bf16=False)


def test_bf16_autocast_and_channels_last_train_on_cpu(tiny_data: Data) -> None:
    recipe = dataclasses.replace(TINY_RECIPE, amp="bf16", memory_format="channels_last", epochs=2)
    seen: list[tuple[torch.dtype, bool]] = []
    result = train_model(TINY_CONFIG, recipe, train_data=tiny_data[0], val_data=tiny_data[1])
    assert result.settings == {
        "amp": "bf16",
        "memory_format": "channels_last",
        "compile": False,
        "cudnn_benchmark": False,
        "tf32_matmul": False,
    }
    conv = next(m for m in result.model.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert conv.weight.dtype == torch.float32  # autocast keeps float32 master weights
    images = torch.randn(2, 1, 8, 8).contiguous(memory_format=torch.channels_last)
    conv.register_forward_hook(
        lambda module, inputs, output: seen.append(
            (output.dtype, inputs[0].is_contiguous(memory_format=torch.channels_last))
        )
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        result.model.eval()(images)
    assert seen == [(torch.bfloat16, True)]
    assert all(math.isfinite(m["train_loss"]) for m in result.history)
    assert len(result.history) == 2


def test_cuda_flags_are_off_on_cpu_and_leave_the_globals_alone() -> None:
    before = (torch.backends.cudnn.benchmark, torch.get_float32_matmul_precision())
    with cuda_training_flags(torch.device("cpu")) as flags:
        assert flags == {"cudnn_benchmark": False, "tf32_matmul": False}
    assert (torch.backends.cudnn.benchmark, torch.get_float32_matmul_precision()) == before


def _learning_rates(recipe: TrainRecipe, steps_per_epoch: int) -> list[float]:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=recipe.lr, momentum=0.9)
    scheduler = _make_scheduler(optimizer, recipe, steps_per_epoch=steps_per_epoch)
    rates = []
    for _ in range(recipe.epochs * steps_per_epoch):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_schedules_advance_per_batch() -> None:
    step = TrainRecipe(lr=1.0, epochs=4, schedule="step", milestones=(2, 3), gamma=0.1)
    assert _learning_rates(step, 2) == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01])
    warm = TrainRecipe(lr=1.0, epochs=4, schedule="none", warmup_epochs=1)
    assert _learning_rates(warm, 3)[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    cosine = _learning_rates(TrainRecipe(lr=1.0, epochs=2, schedule="cosine"), 50)
    assert cosine[0] == 1.0 and cosine[50] == pytest.approx(0.5) and cosine[-1] < 0.01
    onecycle = _learning_rates(TrainRecipe(lr=1.0, epochs=4, schedule="onecycle"), 25)
    assert onecycle.index(max(onecycle)) == 24 and max(onecycle) == pytest.approx(1.0)
    assert onecycle[0] < 0.05 and onecycle[-1] < 1e-3


def test_checkpoint_loads_with_weights_only(tiny_data: Data, tmp_path: Path) -> None:
    recipe = dataclasses.replace(TINY_RECIPE, epochs=1)
    train_model(
        TINY_CONFIG, recipe, train_data=tiny_data[0], val_data=tiny_data[1], out_dir=tmp_path
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == [CHECKPOINT_FILE]  # no .tmp left
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "config", "recipe"} <= set(state)
    assert set(state["rng"]) == {"python", "numpy", "torch", "cuda"}
    assert state["recipe"] == recipe.to_dict() and state["config"] == TINY_CONFIG.to_dict()
    model = build_model(TINY_CONFIG)
    model.load_state_dict(load_checkpoint(tmp_path / CHECKPOINT_FILE)["model"])


def test_a_file_that_is_no_checkpoint_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a readable checkpoint"):
        load_checkpoint(junk)
    with pytest.raises(ValueError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    "recipe",
    [TINY_RECIPE, dataclasses.replace(TINY_RECIPE, amp="bf16", memory_format="channels_last")],
    ids=["fp32-contiguous", "bf16-channels_last"],
)
def test_resume_ends_with_the_weights_of_an_uninterrupted_run(
    tiny_data: Data, tmp_path: Path, recipe: TrainRecipe
) -> None:
    straight = train_model(
        TINY_CONFIG,
        recipe,
        train_data=tiny_data[0],
        val_data=tiny_data[1],
        out_dir=tmp_path / "straight",
    )

    def crash_in_epoch_3(epoch: int, metrics: dict[str, float]) -> None:
        if epoch == 3:
            raise Interrupted  # before epoch 3 is checkpointed: the file holds epoch 2

    with pytest.raises(Interrupted):
        train_model(
            TINY_CONFIG,
            recipe,
            train_data=tiny_data[0],
            val_data=tiny_data[1],
            out_dir=tmp_path / "resumed",
            report=crash_in_epoch_3,
        )
    assert load_checkpoint(tmp_path / "resumed" / CHECKPOINT_FILE)["epoch"] == 2
    reported: list[int] = []
    resumed = train_model(
        TINY_CONFIG,
        recipe,
        train_data=tiny_data[0],
        val_data=tiny_data[1],
        out_dir=tmp_path / "resumed",
        resume=True,
        report=lambda epoch, metrics: reported.append(epoch),
    )
    assert reported == [3, 4]
    expected, actual = straight.model.state_dict(), resumed.model.state_dict()
    assert list(expected) == list(actual)
    for name in expected:  # weights, batch-norm statistics and counters
        assert torch.equal(expected[name], actual[name]), name
    timing = ("seconds", "images_per_second")
    assert [{k: v for k, v in m.items() if k not in timing} for m in resumed.history] == [
        {k: v for k, v in m.items() if k not in timing} for m in straight.history
    ]


@pytest.mark.parametrize(
    "cuda_state",
    [None, [], torch.zeros(16, dtype=torch.uint8), [torch.zeros(16, dtype=torch.uint8)] * 2],
    ids=["none", "older-empty-list", "one-device", "older-two-devices"],
)
def test_a_checkpoint_resumes_on_cpu_whatever_cuda_state_it_holds(
    tiny_data: Data, tmp_path: Path, cuda_state: object
) -> None:
    """The file keeps only the training device's CUDA generator; one written on a GPU (or by
    an older version, with one state per visible GPU) still resumes where there is none."""
    recipe = dataclasses.replace(TINY_RECIPE, epochs=2)
    kwargs = {"train_data": tiny_data[0], "val_data": tiny_data[1], "out_dir": tmp_path}
    straight = train_model(TINY_CONFIG, recipe, train_data=tiny_data[0], val_data=tiny_data[1])
    with pytest.raises(Interrupted):  # epoch 2 is never checkpointed
        train_model(TINY_CONFIG, recipe, report=_stop_after(1), **kwargs)
    state = load_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert state["epoch"] == 1 and state["rng"]["cuda"] is None  # trained on the CPU
    state["rng"]["cuda"] = cuda_state
    torch.save(state, tmp_path / CHECKPOINT_FILE)
    resumed = train_model(TINY_CONFIG, recipe, resume=True, **kwargs)
    assert resumed.epochs_trained == 2
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def _stop_after(epochs: int) -> Callable[[int, dict[str, float]], None]:
    def report(epoch: int, metrics: dict[str, float]) -> None:
        if epoch > epochs:
            raise Interrupted

    return report


def test_resume_refuses_a_checkpoint_of_another_recipe(tiny_data: Data, tmp_path: Path) -> None:
    recipe = dataclasses.replace(TINY_RECIPE, epochs=1)
    train_model(
        TINY_CONFIG, recipe, train_data=tiny_data[0], val_data=tiny_data[1], out_dir=tmp_path
    )
    longer = dataclasses.replace(recipe, epochs=2)
    with pytest.raises(ValueError, match="different recipe .epochs is 1 there, 2 here"):
        train_model(
            TINY_CONFIG,
            longer,
            train_data=tiny_data[0],
            val_data=tiny_data[1],
            out_dir=tmp_path,
            resume=True,
        )


def test_resuming_a_finished_run_returns_it_without_training(
    tiny_data: Data, tmp_path: Path
) -> None:
    recipe = dataclasses.replace(TINY_RECIPE, epochs=1)
    kwargs = {"train_data": tiny_data[0], "val_data": tiny_data[1], "out_dir": tmp_path}
    first = train_model(TINY_CONFIG, recipe, **kwargs)
    reported: list[int] = []
    again = train_model(
        TINY_CONFIG, recipe, resume=True, report=lambda e, m: reported.append(e), **kwargs
    )
    assert reported == [] and again.history == first.history
    assert torch.equal(again.model.features[0][0].weight, first.model.features[0][0].weight)


def test_the_trainer_imports_neither_optuna_nor_ray() -> None:
    code = (
        "import sys, archbench.train; "
        "print(sorted(m for m in ('optuna', 'ray') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("steps_per_epoch", [1, 2, 3, 4, 5, 8])
def test_onecycle_survives_proxy_runs_with_a_handful_of_steps(steps_per_epoch: int) -> None:
    """A search trial on a small subset may have very few steps; the schedule must still run."""
    import torch

    from archbench.train import get_recipe
    from archbench.train._loop import _make_scheduler

    recipe = get_recipe("proxy")
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=recipe.lr, momentum=0.9)
    scheduler = _make_scheduler(optimizer, recipe, steps_per_epoch=steps_per_epoch)
    rates = []
    for _ in range(recipe.epochs * steps_per_epoch):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert all(rate > 0 for rate in rates[:-1])
    assert max(rates) <= recipe.lr * (1 + 1e-9)
