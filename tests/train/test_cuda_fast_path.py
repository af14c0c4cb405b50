"""The CUDA fast path: AMP with the scaler, compile, channels_last and the CUDA flags on a GPU.

All skipped without CUDA; ``make gpu-check`` runs them on a GPU machine.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from archbench.data import Dataset
from archbench.train import CHECKPOINT_FILE, load_checkpoint, train_model
from tests.train.conftest import TINY_CONFIG, TINY_RECIPE

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
Data = tuple[Dataset, Dataset]


def test_auto_trains_in_the_fastest_precision_and_layout(tiny_data: Data) -> None:
    result = train_model(
        TINY_CONFIG,
        dataclasses.replace(TINY_RECIPE, epochs=1),
        train_data=tiny_data[0],
        val_data=tiny_data[1],
        device="cuda",
    )
    native = torch.cuda.is_bf16_supported(including_emulation=False)
    assert result.settings["amp"] == ("bf16" if native else "fp16")
    assert result.settings["memory_format"] == "channels_last"
    assert result.settings["cudnn_benchmark"] and result.settings["tf32_matmul"]
    conv = next(m for m in result.model.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not torch.backends.cudnn.benchmark  # restored after training


def test_fp16_with_the_gradient_scaler_trains_and_resumes(tiny_data: Data, tmp_path: Path) -> None:
    recipe = dataclasses.replace(TINY_RECIPE, amp="fp16", epochs=2)
    kwargs = {"train_data": tiny_data[0], "val_data": tiny_data[1], "device": "cuda"}
    result = train_model(TINY_CONFIG, recipe, out_dir=tmp_path, **kwargs)
    assert result.settings["amp"] == "fp16"
    state = load_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert state["scaler"]["scale"] > 0
    assert isinstance(state["rng"]["cuda"], torch.Tensor)  # the training device's state only
    resumed = train_model(TINY_CONFIG, recipe, out_dir=tmp_path, resume=True, **kwargs)
    assert resumed.epochs_trained == 2


def test_compile_is_timed_apart_once(tiny_data: Data) -> None:
    recipe = dataclasses.replace(TINY_RECIPE, compile=True, epochs=2)
    result = train_model(
        TINY_CONFIG, recipe, train_data=tiny_data[0], val_data=tiny_data[1], device="cuda"
    )
    assert result.compile_seconds is not None and result.compile_seconds > 0
    assert "compile_seconds" in result.history[0] and "compile_seconds" not in result.history[1]
    assert result.history[0]["compile_seconds"] <= result.history[0]["seconds"]
