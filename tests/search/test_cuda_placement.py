"""Where the search's side work runs: the prescreen's device (CPU in a Ray driver, which owns no
GPU) and the profile a trial gets (the recipe's precision, layout and compile)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from archbench.budget import Budget
from archbench.search import RaySettings, SearchSettings
from archbench.search._prescreen import prescreen_device
from archbench.train import get_recipe, profile_options
from tests.search.conftest import TINY_BUDGET


def _settings(space: Path, **overrides: object) -> SearchSettings:
    return SearchSettings(
        space=str(space), budget=Budget(TINY_BUDGET), n_trials=4, prescreen=8,
        zero_cost="synflow", **overrides,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_ray_driver_prescreens_on_the_cpu_whatever_the_trials_use(tiny_space: Path) -> None:
    settings = _settings(
        tiny_space, backend="ray", device="auto", ray=RaySettings(gpus_per_trial=1.0)
    )
    assert prescreen_device(settings) == torch.device("cpu")
    assert prescreen_device(_settings(tiny_space, device="cpu")) == torch.device("cpu")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_optuna_driver_prescreens_on_the_search_device(tiny_space: Path) -> None:
    assert prescreen_device(_settings(tiny_space, device="cuda")).type == "cuda"


def test_a_trials_profile_follows_its_recipe() -> None:
    recipe = get_recipe("proxy")
    cpu = torch.device("cpu")
    assert profile_options(dataclasses.replace(recipe, amp="auto"), cpu)["amp"] is None
    assert profile_options(dataclasses.replace(recipe, amp="bf16"), cpu)["amp"] == "bf16"
    layout = profile_options(
        dataclasses.replace(recipe, memory_format="channels_last", compile=True), cpu
    )
    assert layout["channels_last"] is True and layout["compile"] is True
    auto = profile_options(dataclasses.replace(recipe, memory_format="auto"), cpu)
    assert auto["channels_last"] is False  # auto is NHWC on CUDA only, as the trainer


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_trials_profile_is_nhwc_and_mixed_precision_under_auto() -> None:
    options = profile_options(get_recipe("proxy"), torch.device("cuda"))
    assert options["channels_last"] is True and options["amp"] in ("bf16", "fp16")
