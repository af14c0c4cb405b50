"""The unit every measurement runs: a model, its optimizer and synthetic batches on one device.

The same class runs on a real device (timing, measured memory), under ``FakeTensorMode``
(predicted memory) and in the max-batch probe process, so all three see the same training step:
forward and cross-entropy loss (under autocast with AMP), backward, optimizer step, and
``zero_grad(set_to_none=True)``. That is timm's ``benchmark.py`` train step, with the inputs made
once outside the step. Like timm, AMP runs without a GradScaler: scaling adds a few elementwise
kernels per step and needs a host sync that fake tensors cannot do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import torch
from torch import nn

from archbench.models import ModelConfig, build_model

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
OPTIMIZERS = ("sgd", "adamw")


def make_optimizer(name: str, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizers of the training recipes; their state is part of the memory figures.

    SGD with Nesterov momentum keeps one buffer per parameter, AdamW two moments and a step.
    Both use the ``foreach`` implementation on every device, because it is the default on CUDA
    (``_default_to_fused_or_foreach``), the device the predictions are for: with weight decay it
    holds a copy of all gradients during the step, which is the peak of a small batch (VGG-16
    at batch 8: 20% above the CPU default's one-tensor-at-a-time loop).
    """
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, foreach=True
        )
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05, foreach=True)
    raise ValueError(f"optimizer: {name!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")


def check_amp(amp: str | None) -> None:
    """Raises ValueError unless ``amp`` is None, ``bf16`` or ``fp16``."""
    if amp is not None and amp not in AMP_DTYPES:
        raise ValueError(f"amp: {amp!r} is unknown; choose bf16 or fp16 (or leave it off for fp32)")


class Workload:
    """A model and optimizer on ``device`` that run one training or inference step at a time.

    The optimizer state exists from the start (one step on zero gradients), so the first
    measured step already carries the momentum buffers or Adam moments of a running training
    and its memory peak is the steady-state one.

    Args:
        cfg: the architecture.
        device: where it runs; ``cpu`` under ``FakeTensorMode`` makes fake tensors.
        optimizer: ``sgd`` or ``adamw``.
        amp: ``bf16`` or ``fp16`` autocast, or None for fp32.
        channels_last: NHWC memory format for the model and its inputs.
        compile: run the forward through ``torch.compile`` (the first calls compile).
    """

    def __init__(
        self,
        cfg: ModelConfig,
        device: torch.device | str,
        *,
        optimizer: str = "sgd",
        amp: str | None = None,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        check_amp(amp)
        self.cfg = cfg
        self.device = torch.device(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        with self.device:  # built in place: Module.to cannot swap fake parameters
            self.model = build_model(cfg)
        if channels_last:  # what Module.to(memory_format=...) does, without the swap
            for param in self.model.parameters():
                if param.dim() == 4:
                    param.data = param.data.contiguous(memory_format=torch.channels_last)
        self.optimizer = make_optimizer(optimizer, self.model.parameters())
        self._amp_dtype = AMP_DTYPES[amp] if amp else None
        self.compiled = compile
        self._forward = torch.compile(self.model) if compile else self.model
        for param in self.model.parameters():
            param.grad = torch.zeros_like(param)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def optimizer_state(self) -> list[torch.Tensor]:
        """The optimizer's state tensors: momentum buffers, Adam moments and step counters."""
        return [
            value
            for state in self.optimizer.state.values()
            for value in state.values()
            if isinstance(value, torch.Tensor)
        ]

    def batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Synthetic normalized images and labels on the device (timm's benchmark inputs)."""
        cfg = self.cfg
        shape = (batch_size, cfg.in_channels, cfg.input_size, cfg.input_size)
        images = torch.randn(shape, device=self.device).contiguous(memory_format=self.memory_format)
        labels = torch.randint(0, cfg.num_classes, (batch_size,), device=self.device)
        return images, labels

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self._amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self._amp_dtype)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Forward, loss, backward, optimizer step, gradients released."""
        if not self.model.training:
            self.model.train()
        with self._autocast():
            loss = nn.functional.cross_entropy(self._forward(images), labels)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def infer_step(self, images: torch.Tensor) -> None:
        """One forward in eval mode under ``inference_mode`` (no autograd bookkeeping)."""
        if self.model.training:
            self.model.eval()
        with torch.inference_mode(), self._autocast():
            self._forward(images)
