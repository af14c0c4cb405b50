"""Checkpoints that resume a run exactly and load with ``torch.load(weights_only=True)``.

A checkpoint holds everything the next epoch depends on: weights, optimizer and scheduler state,
the gradient scaler, every random number generator, and the history. RNG states are stored as
tensors and plain Python values so that the safe ``weights_only`` unpickler accepts the file:
a checkpoint is data, never code. Files are written to a temporary name and renamed
(``os.replace``), so an interrupted write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Writes ``state`` to ``path`` atomically (temporary file, fsync, rename)."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp")
    with open(tmp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, file)
    return file


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Reads a checkpoint with the safe unpickler, onto the CPU.

    ``load_state_dict`` of modules and optimizers moves tensors to where the parameters live, so
    the same file resumes or predicts on any device.

    Raises:
        ValueError: when the file is missing or is not an archbench checkpoint.
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{file}: no such checkpoint")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{file}: not a readable checkpoint ({first_line})") from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise ValueError(f"{file}: not an archbench checkpoint (no model weights and epoch)")
    return state


def load_scaler_state(scaler: torch.amp.GradScaler, state: dict[str, Any]) -> None:
    """Restores a gradient scaler where the checkpoint has one to give.

    A run without fp16 (fp32, bf16) stores a disabled scaler's empty state, and
    ``GradScaler.load_state_dict({})`` raises; resuming such a checkpoint where ``amp=auto``
    now means fp16 (another GPU) starts the scaler afresh, as a new fp16 run would. An fp16
    checkpoint resumed without fp16 has no scaler to restore.
    """
    if state and scaler.is_enabled():
        scaler.load_state_dict(state)


def capture_rng_state(device: torch.device) -> dict[str, Any]:
    """The state of every generator training draws from: python, numpy, torch's CPU generator,
    and the training device's CUDA generator (only that one: the file must resume on a machine
    with fewer visible GPUs)."""
    numpy_state = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state(legacy=True))
    bit_generator, keys, position, has_gauss, cached_gaussian = numpy_state
    return {
        "python": random.getstate(),  # a tuple of ints: plain data
        "numpy": (
            bit_generator,
            torch.from_numpy(keys.astype(np.int64)),
            int(position),
            int(has_gauss),
            float(cached_gaussian),
        ),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def restore_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Puts every generator back where ``capture_rng_state`` found it.

    The CUDA state goes to the training device; a run moved to the CPU has none to restore.
    Older files hold a list with one state per visible GPU: the training device's is used.
    """
    random.setstate(state["python"])
    bit_generator, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state(
        (bit_generator, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian)
    )
    torch.set_rng_state(state["torch"])
    cuda_state = state.get("cuda")
    if isinstance(cuda_state, list):
        index = device.index or 0
        cuda_state = cuda_state[index] if index < len(cuda_state) else None
    if device.type == "cuda" and cuda_state is not None:
        torch.cuda.set_rng_state(cuda_state, device)
