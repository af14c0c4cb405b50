"""Peak training memory and the largest batch that fits, predicted without the device.

A training step (forward, loss, backward, optimizer step) runs on fake tensors
(``FakeTensorMode``): shapes, dtypes and storages without data, so no memory is allocated and
the cost does not depend on the batch size. ``StorageTracker`` follows every storage through
the step, which gives the peak of live tensor bytes and its split into parameters, gradients,
optimizer state and activations. On a CPU this is the measured tensor peak to the byte (the
tests hold it to 5% for every preset); MemTracker, built the same way, is held to 10% of CUDA's
allocator in PyTorch's own tests. Fake tensors live on the CPU device so that AMP can be
simulated with CPU autocast, whose lower-precision op list (convolutions, matmuls) matches
CUDA's for these models; meta tensors ignore autocast.

For the maximum batch size, tensor sizes in a CNN are affine in the batch size and the ops are
the same at every batch size, so two traces (at 8 and 16) give every allocation as
``a + b * batch``. Checked against a third trace (the profile's own batch size, or 12), the
peak at any batch size is then a replay of the events, and the search costs milliseconds per
probe. If the check fails, the search simulates every probe instead.

A GPU needs memory the tensors do not show (``docs/profiling.md``): the CUDA context
and library modules, cuDNN and cuBLAS workspaces, and the caching allocator's rounding and
fragmentation. ``CUDA_CONTEXT_BYTES`` and ``ALLOCATOR_OVERHEAD`` (``_device.py``, where
``limit_memory`` emulates a smaller card with the same allowance) are that allowance. They come
from published figures (PyTorch PR #86509: a context of 287 MB with lazy module loading and
667 MB eager; pytorch#34323: about 781 MB in nvidia-smi for a trivial program; Lightning's
binsearch margin of 5%) and have not been calibrated on our own GPU runs yet.
"""

from __future__ import annotations

import re

from torch._subclasses.fake_tensor import FakeTensorMode

from archbench._units import parse_bytes
from archbench.hwprofile._device import ALLOCATOR_OVERHEAD, CUDA_CONTEXT_BYTES
from archbench.hwprofile._max_batch import MAX_BATCH_LIMIT, MaxBatchSearch, search_max_batch
from archbench.hwprofile._memory import Event, replay, trace_train_step
from archbench.hwprofile._result import MemoryPrediction
from archbench.hwprofile._workload import Workload
from archbench.models import ModelConfig

_GIB = 2**30
GPU_MEMORY: dict[str, int] = {
    "rtx3060": 12 * _GIB,
    "rtx3080": 10 * _GIB,
    "rtx3090": 24 * _GIB,
    "rtx4060": 8 * _GIB,
    "rtx4070": 12 * _GIB,
    "rtx4080": 16 * _GIB,
    "rtx4090": 24 * _GIB,
    "rtx5090": 32 * _GIB,
    "t4": 16 * _GIB,
    "l4": 24 * _GIB,
    "a10": 24 * _GIB,
    "l40s": 48 * _GIB,
    "v100-16gb": 16 * _GIB,
    "v100-32gb": 32 * _GIB,
    "a100-40gb": 40 * _GIB,
    "a100-80gb": 80 * _GIB,
    "h100-80gb": 80 * _GIB,
}  # nominal capacities; CUDA reports 1-3% less, which the context allowance absorbs

_FIT_BATCHES = (8, 16)
_CHECK_BATCH = 12


def _gpu_key(name: str) -> str:
    return re.sub(r"[-_ ]", "", name.lower())


def resolve_memory(text: str) -> int:
    """Bytes from a memory size (``24GiB``, ``12GB``) or a GPU name of ``GPU_MEMORY`` (``rtx4090``).

    Raises:
        ValueError: for anything else, listing the GPU names.
    """
    names = {_gpu_key(name): size for name, size in GPU_MEMORY.items()}
    if _gpu_key(text) in names:
        return names[_gpu_key(text)]
    try:
        return parse_bytes(text, "memory")
    except ValueError:
        raise ValueError(
            f"memory: cannot read {text!r}; write a size such as 24GiB or 12GB, or a GPU name: "
            f"{', '.join(GPU_MEMORY)}"
        ) from None


def usable_gpu_bytes(memory_bytes: int) -> int:
    """Bytes of a GPU's memory that tensors can use, after the CUDA allowance (may be 0)."""
    return max(0, int((memory_bytes - CUDA_CONTEXT_BYTES) / ALLOCATOR_OVERHEAD))


class _AffineTrace:
    """A trace whose allocation sizes are ``nbytes + slope * (batch_size - base_batch)``."""

    def __init__(self, events: list[Event], base_batch: int, slopes: list[int]) -> None:
        self._events = events
        self._base_batch = base_batch
        self._slopes = slopes

    def at(self, batch_size: int) -> list[Event]:
        shift = batch_size - self._base_batch
        return [
            event._replace(nbytes=event.nbytes + slope * shift) if slope else event
            for event, slope in zip(self._events, self._slopes)
        ]

    @classmethod
    def fit(cls, traces: dict[int, list[Event]]) -> _AffineTrace | None:
        """Fits the traces at ``_FIT_BATCHES`` and checks all others; None if any disagrees."""
        low, high = _FIT_BATCHES
        base, top = traces[low], traces[high]
        checks = [batch for batch in traces if batch not in _FIT_BATCHES]
        if len(base) != len(top) or not checks:
            return None
        slopes = []
        for a, b in zip(base, top):
            slope, remainder = divmod(b.nbytes - a.nbytes, high - low)
            if remainder or a._replace(nbytes=0) != b._replace(nbytes=0):
                return None
            slopes.append(slope)
        affine = cls(base, low, slopes)
        return affine if all(affine.at(batch) == traces[batch] for batch in checks) else None


class TrainStepSimulation:
    """One config's training step on fake tensors, traced at any batch size.

    Args:
        cfg: the architecture.
        optimizer: ``sgd`` or ``adamw``; its state is part of the peak.
        amp: ``bf16`` or ``fp16`` autocast, or None for fp32.
        channels_last: NHWC layout (some ops copy to it, which shows in the trace).
    """

    def __init__(
        self,
        cfg: ModelConfig,
        *,
        optimizer: str = "sgd",
        amp: str | None = None,
        channels_last: bool = False,
    ) -> None:
        self._mode = FakeTensorMode()
        with self._mode:
            self._workload = Workload(
                cfg, "cpu", optimizer=optimizer, amp=amp, channels_last=channels_last
            )
        self._traces: dict[int, list[Event]] = {}

    def trace(self, batch_size: int) -> list[Event]:
        """Storage events of one steady-state training step at ``batch_size`` (kept for reuse)."""
        if batch_size not in self._traces:
            with self._mode:
                images, labels = self._workload.batch(batch_size)
                self._traces[batch_size] = trace_train_step(self._workload, images, labels)
        return self._traces[batch_size]

    def predict(self, batch_size: int) -> MemoryPrediction:
        """Peak live tensor bytes of a training step at ``batch_size``, by category."""
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        return replay(self.trace(batch_size))

    def max_batch_size(self, memory_bytes: int, *, limit: int = MAX_BATCH_LIMIT) -> MaxBatchSearch:
        """The largest batch whose predicted peak fits in a GPU of ``memory_bytes``.

        The search starts from a straight line through the peaks at the two fitted batch sizes.
        """
        budget = usable_gpu_bytes(memory_bytes)
        low, high = (replay(self.trace(batch)).total for batch in _FIT_BATCHES)
        if len(self._traces) == len(_FIT_BATCHES):
            self.trace(_CHECK_BATCH)
        affine = _AffineTrace.fit(self._traces)

        def fits(batch_size: int) -> bool:
            events = affine.at(batch_size) if affine else self.trace(batch_size)
            return replay(events).total <= budget

        small, large = _FIT_BATCHES
        per_image = max(1, (high - low) // (large - small))
        return search_max_batch(fits, start=small + (budget - low) // per_image, limit=limit)


def predict_peak_memory(
    cfg: ModelConfig,
    batch_size: int,
    *,
    optimizer: str = "sgd",
    amp: str | None = None,
    channels_last: bool = False,
) -> MemoryPrediction:
    """Predicted peak tensor memory of one training step at ``batch_size``, without a device.

    The figure is what ``torch.cuda.max_memory_allocated`` would show, without the CUDA
    allowance (context, allocator cache); ``predict_max_batch_size`` adds that allowance.
    """
    simulation = TrainStepSimulation(cfg, optimizer=optimizer, amp=amp, channels_last=channels_last)
    return simulation.predict(batch_size)


def predict_max_batch_size(
    cfg: ModelConfig,
    memory_bytes: int,
    *,
    optimizer: str = "sgd",
    amp: str | None = None,
    channels_last: bool = False,
) -> int:
    """The largest training batch predicted to fit on a GPU with ``memory_bytes`` of memory.

    Subtracts ``CUDA_CONTEXT_BYTES`` and divides by ``ALLOCATOR_OVERHEAD`` before comparing with
    the simulated tensor peak. Returns 0 when not even batch 1 fits, and ``MAX_BATCH_LIMIT``
    when the limit fits. About a second per model on a CPU.
    """
    simulation = TrainStepSimulation(cfg, optimizer=optimizer, amp=amp, channels_last=channels_last)
    return simulation.max_batch_size(memory_bytes).max_batch_size
