"""Resuming across precisions: a bf16 or fp32 checkpoint's scaler state is empty, and a resume
where ``amp=auto`` now means fp16 must start the scaler afresh instead of crashing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from archbench.data import Dataset
from archbench.train import train_model
from archbench.train._checkpoint import load_scaler_state
from tests.train.conftest import TINY_CONFIG, TINY_RECIPE


def test_an_empty_scaler_state_starts_an_enabled_scaler_afresh() -> None:
    disabled = torch.amp.GradScaler("cpu", enabled=False).state_dict()
    assert disabled == {}  # what a bf16 or fp32 run stores
    scaler = torch.amp.GradScaler("cpu", enabled=True, init_scale=2.0**10)
    with pytest.raises(RuntimeError):
        scaler.load_state_dict(disabled)  # the crash the loop no longer meets
    load_scaler_state(scaler, disabled)
    assert scaler.get_scale() == 2.0**10


def test_a_saved_scaler_state_is_restored_and_ignored_without_fp16() -> None:
    saved = torch.amp.GradScaler("cpu", enabled=True, init_scale=8.0).state_dict()
    scaler = torch.amp.GradScaler("cpu", enabled=True)
    load_scaler_state(scaler, saved)
    assert scaler.get_scale() == 8.0
    load_scaler_state(torch.amp.GradScaler("cpu", enabled=False), saved)  # bf16 resume: no-op


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_bf16_checkpoint_resumes_in_fp16(
    tiny_data: tuple[Dataset, Dataset], tmp_path: Path
) -> None:
    train, val = tiny_data
    kwargs = {"train_data": train, "val_data": val, "device": "cuda", "out_dir": tmp_path}
    train_model(TINY_CONFIG, dataclasses.replace(TINY_RECIPE, epochs=1, amp="bf16"), **kwargs)
    resumed = train_model(
        TINY_CONFIG, dataclasses.replace(TINY_RECIPE, epochs=2, amp="fp16"), resume=True, **kwargs
    )
    assert resumed.epochs_trained == 2
