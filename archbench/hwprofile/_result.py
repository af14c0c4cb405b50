"""The records a profile produces: ``ProfileResult`` and the ``MemoryPrediction`` inside it.

Every figure that could not be measured is ``None`` with the reason under ``unavailable[field]``,
never 0: ``torch.cuda.max_memory_allocated()`` returns 0 on a machine without CUDA, and a 0 in a
leaderboard reads as "free" (``docs/profiling.md``, "Measuring right").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archbench import _dataclass_io


class Unavailable(RuntimeError):
    """A figure cannot be measured here; the message says why (it ends up in ``unavailable``)."""


@dataclass(frozen=True)
class MemoryPrediction:
    """Live tensor bytes at the peak of a training step, split by what the bytes hold.

    Attributes:
        params: parameters and buffers (batch-norm statistics).
        gradients: gradients alive at the peak (during backward, only those computed so far).
        optimizer_state: momentum buffers, Adam moments and step counters.
        activations: everything else alive at the peak: the input batch, tensors saved for
            backward, and short-lived temporaries.
        total: the peak itself, the sum of the four.
        steady_gradients: the most gradient bytes alive at any moment of the step (all of
            them, after backward): the steady-state size, unlike ``gradients``.
        steady_optimizer_state: the same for the optimizer state (after the first step).
    """

    params: int
    gradients: int
    optimizer_state: int
    activations: int
    total: int
    steady_gradients: int | None = None  # None in records written before it was predicted
    steady_optimizer_state: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _dataclass_io.to_dict(self)


@dataclass(frozen=True)
class ProfileResult:
    """What one config costs on one device. Memory in bytes, FLOPs and MACs per image.

    Attributes:
        n_params: exact parameter count (analytic, ``count_params``).
        model_bytes_fp32: size of the parameters in fp32 (4 bytes each).
        model_bytes_fp16: the same in fp16 or bf16 (2 bytes each).
        flops: forward FLOPs per image (``FlopCounterMode`` on the meta device: 2 per
            multiply-add, convolutions and matmuls only).
        macs: ``flops / 2``, the unit of most CNN papers and of timm's ``gmacs``.
        train_step_flops: forward and backward FLOPs per image.
        fvcore_macs: fvcore's count for the same forward (MACs, including batch norm and
            pooling), the cross-check; level "full" only.
        latency_ms_median: inference latency at batch 1 (median over timed blocks).
        latency_ms_p90: 90th percentile of the same blocks.
        latency_ms_iqr: interquartile range of the same blocks.
        latency_timed_blocks: how many blocks were timed (one block has no spread).
        infer_images_per_second: inference throughput at ``env["batch_size"]`` (median block).
        infer_images_per_second_iqr: interquartile range of the blocks' throughputs.
        infer_timed_blocks: how many blocks were timed.
        train_images_per_second: training throughput (forward, loss, backward, optimizer step)
            at ``env["batch_size"]``.
        train_images_per_second_iqr: interquartile range of the blocks' throughputs.
        train_timed_blocks: how many blocks were timed.
        compile_seconds: wall time of the first compiled training step at the profiled batch
            (its compilation, as the trainer's ``compile_seconds``); measured apart from the
            timed steps.
        compile_seconds_by_call: each static-shape compile apart, keyed ``infer@1`` (latency),
            ``infer@B`` and ``train@B``; empty without compile.
        peak_train_memory_bytes: peak tensor memory of a training step: CUDA
            ``max_memory_allocated``; on CPU the tracked live-storage peak.
        peak_infer_memory_bytes: the same for an inference step: parameters, buffers, the
            batch and activations (not the optimizer state the profiled training holds).
        peak_train_reserved_bytes: CUDA ``max_memory_reserved`` during training (allocated plus
            the caching allocator's cache and fragmentation).
        peak_train_device_used_bytes: NVML device memory used after the training steps minus a
            baseline taken before the model was built, as nvidia-smi sees it (the caching
            allocator keeps its peak reservation, and other processes add noise).
        peak_train_rss_bytes: peak resident set of the whole process during the timed training
            steps (CPU runs, Linux): a process footprint, not a tensor figure.
        predicted_train_memory_bytes: predicted peak tensor memory of a training step at
            ``env["batch_size"]`` (simulated on fake tensors, no device needed).
        predicted_train_memory: the same prediction split by category.
        predicted_max_batch_size: largest training batch predicted to fit in
            ``predicted_for_memory_bytes`` of GPU memory, after the CUDA allowance.
        predicted_for_memory_bytes: the GPU memory size of that prediction.
        max_batch_size: largest training batch measured to fit on the CUDA device.
        max_batch_size_safe: ``max_batch_size`` less a 10% margin against fragmentation.
        shared_device: measured on a CUDA device that other trials used at the same time
            (``--workers`` on one card, fractional Ray GPUs): latency and throughput include
            their contention (see ``notes``), NVML's device memory and the max batch size are
            left out (see ``unavailable``). The allocator's peaks are this process's own.
        env: the environment stamp: device, versions, precision, layout, batch size.
        unavailable: field name -> why that figure is ``None``.
        notes: field name -> a caveat about a figure that is present.
        noisy: timing name (``latency_ms_median``, ``infer_images_per_second``,
            ``train_images_per_second``) -> why it is noise rather than fact: blocks that
            disagree, too few of them, or a busy machine (``hwprofile._timing``).
    """

    n_params: int
    model_bytes_fp32: int
    model_bytes_fp16: int
    flops: int
    macs: int
    train_step_flops: int
    fvcore_macs: int | None = None
    latency_ms_median: float | None = None
    latency_ms_p90: float | None = None
    latency_ms_iqr: float | None = None
    latency_timed_blocks: int | None = None  # None in records written before it was counted
    infer_images_per_second: float | None = None
    infer_images_per_second_iqr: float | None = None
    infer_timed_blocks: int | None = None
    train_images_per_second: float | None = None
    train_images_per_second_iqr: float | None = None
    train_timed_blocks: int | None = None
    compile_seconds: float | None = None
    compile_seconds_by_call: dict[str, float] = field(default_factory=dict)
    peak_train_memory_bytes: int | None = None
    peak_infer_memory_bytes: int | None = None
    peak_train_reserved_bytes: int | None = None
    peak_train_device_used_bytes: int | None = None
    peak_train_rss_bytes: int | None = None
    predicted_train_memory_bytes: int | None = None
    predicted_train_memory: MemoryPrediction | None = None
    predicted_max_batch_size: int | None = None
    predicted_for_memory_bytes: int | None = None
    max_batch_size: int | None = None
    max_batch_size_safe: int | None = None
    shared_device: bool = False
    env: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    noisy: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.unavailable:
            if getattr(self, name, None) is not None:
                raise ValueError(f"unavailable: {name!r} has a value; only a None has a reason")

    def to_dict(self) -> dict[str, Any]:
        return _dataclass_io.to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ProfileResult:
        """Reads a dict written by ``to_dict``.

        Raises:
            ValueError: on an unknown key or a value of the wrong type.
        """
        return _dataclass_io.from_dict(cls, data)
