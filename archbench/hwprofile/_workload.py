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


def check_amp(amp: str | None, device: torch.device | str | None = None) -> None:
    """Raises ValueError unless ``amp`` is None, ``bf16`` or ``fp16``, and ``bf16`` runs natively
    on a CUDA ``device``: before Ampere (compute capability 8.0) cuDNN finds no bf16 engine, and
    that error would read as out-of-memory and a max batch of 0."""
    if amp is not None and amp not in AMP_DTYPES:
        raise ValueError(f"amp: {amp!r} is unknown; choose bf16 or fp16 (or leave it off for fp32)")
    if amp == "bf16" and device is not None and torch.device(device).type == "cuda":
        capability = torch.cuda.get_device_capability(device)
        if not bf16_native(capability):
            raise ValueError(
                f"amp: bf16 needs compute capability 8.0 or newer (Ampere); "
                f"{torch.cuda.get_device_name(device)} has {capability[0]}.{capability[1]}; "
                "use --amp fp16"
            )


def bf16_native(capability: tuple[int, int]) -> bool:
    """Whether a CUDA compute capability has bf16 tensor cores (Ampere, 8.0, and newer)."""
    return capability >= (8, 0)


def to_memory_format(tensor: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
    """``tensor`` in ``memory_format`` as ``Module.to`` converts it: ``Tensor.to`` restrides
    even where ``contiguous`` sees nothing to do (one channel: a first conv on grey images, a
    depthwise weight), so cuDNN picks the NHWC kernels the trainer runs."""
    if tensor.dim() != 4:
        return tensor
    return tensor.to(memory_format=memory_format)


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
        compile: run the forward through ``torch.compile`` with static shapes: the first call
            at each batch size and mode compiles.
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
        check_amp(amp, device)
        self.cfg = cfg
        self.device = torch.device(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        with self.device:  # built in place: Module.to cannot swap fake parameters
            self.model = build_model(cfg)
        if channels_last:  # what Module.to(memory_format=...) does, without the swap
            for param in self.model.parameters():
                param.data = to_memory_format(param.data, torch.channels_last)
        self.optimizer = make_optimizer(optimizer, self.model.parameters())
        self._amp_dtype = AMP_DTYPES[amp] if amp else None
        self.compiled = compile
        # Static shapes, as the trainer's fixed batch: a second batch size compiles a graph of
        # its own instead of a dynamic-shape one (automatic dynamic after the first recompile).
        self._forward = torch.compile(self.model, dynamic=False) if compile else self.model
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
        images = to_memory_format(torch.randn(shape, device=self.device), self.memory_format)
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
