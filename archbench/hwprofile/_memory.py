"""Memory measurement: live tensor bytes traced through the dispatcher, and process peak RSS.

``StorageTracker`` is a ``TorchDispatchMode`` that sees the outputs of every aten op and follows
their storages with weak references, counting a storage from the op that creates it until it
dies: the technique of torch's ``MemTracker`` (``torch/distributed/_tools/mem_tracker.py``). It
works alike on real CPU tensors, meta tensors and fake tensors, so the same trace is both the
measured CPU tensor peak and, under ``FakeTensorMode``, the prediction for a device we do not
have (meta, fake and CPU agree to the byte; ``benchmarks/profile_prediction.py`` measures it).

The tracker records events (allocation, free, relabel) instead of a running total, and
``replay`` turns them into the peak and its breakdown; ``_predict`` replays the same events with
sizes for other batch sizes. Sizes are rounded up to 512 bytes, the CUDA caching allocator's
smallest block, so the figures compare with ``torch.cuda.max_memory_allocated``.

Process RSS is a different figure: the footprint of the whole process, which glibc's reuse of
freed memory makes lower than the tensor peak. Its peak (``VmHWM``) is resettable on
Linux by writing ``5`` to ``/proc/self/clear_refs``.
"""

from __future__ import annotations

import gc
import itertools
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from archbench.hwprofile._result import MemoryPrediction, Unavailable
from archbench.hwprofile._workload import Workload

CATEGORIES = ("params", "gradients", "optimizer_state", "activations")
BLOCK_BYTES = 512  # CUDA caching allocator's minimum block (kMinBlockSize); MemTracker rounds too


class Event(NamedTuple):
    """One change to the live set: ``alloc`` (slot, nbytes, category), ``free`` or ``label``.

    ``slot`` numbers storages in order of allocation, so two traces of the same step line up
    event by event; ``nbytes`` is the unrounded storage size.
    """

    kind: str
    slot: int
    nbytes: int = 0
    category: str = ""


class StorageTracker(TorchDispatchMode):
    """Records the life of every tensor storage that aten ops create while the mode is active.

    Tensors that exist before (parameters, optimizer state, inputs) are registered with
    ``track``, which also relabels a known storage (a gradient is created by a backward op and
    becomes a gradient when it is accumulated). The cyclic garbage collector is paused while
    the mode is active so that frees happen at the same point in every trace.
    """

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []
        # id(storage) -> (slot, category, weak reference whose callback records the free)
        self._live: dict[int, tuple[int, str, weakref.ref[Any]]] = {}
        self._slots = itertools.count()
        self._gc_was_enabled = False

    def track(self, tensor: torch.Tensor, category: str = "activations") -> None:
        """Counts ``tensor``'s storage under ``category`` from now on, relabelling it if known."""
        key = self._add(tensor, category)
        slot, old, ref = self._live[key]
        if old != category:
            self._live[key] = (slot, category, ref)
            self.events.append(Event("label", slot, 0, category))

    def _add(self, tensor: torch.Tensor, category: str) -> int:
        """Starts following a new storage; a known one (a view, or the input of an in-place op
        returned as its output) keeps its label. Returns the storage's key."""
        storage = tensor.untyped_storage()
        key = id(storage)
        if key not in self._live:
            slot = next(self._slots)
            ref = weakref.ref(storage, lambda _, key=key: self._free(key))  # type: ignore[misc]
            self._live[key] = (slot, category, ref)
            self.events.append(Event("alloc", slot, storage.nbytes(), category))
        return key

    def _free(self, key: int) -> None:
        slot, _, _ = self._live.pop(key)
        self.events.append(Event("free", slot))

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self._add(leaf, "activations")
        return out

    def __enter__(self) -> StorageTracker:
        self._gc_was_enabled = gc.isenabled()
        gc.disable()
        return super().__enter__()  # type: ignore[no-any-return]

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        self._live.clear()  # drops the weak references: no more callbacks, no tracker kept alive
        if self._gc_was_enabled:
            gc.enable()


def replay(events: Iterable[Event]) -> MemoryPrediction:
    """The peak of live bytes over ``events``, what was alive at that moment, and the most
    gradient and optimizer-state bytes alive at any moment (their steady-state sizes)."""
    live: dict[int, tuple[int, str]] = {}
    current = dict.fromkeys(CATEGORIES, 0)
    total = peak_total = 0
    peak = dict(current)
    most = dict(current)
    for event in events:
        if event.kind == "alloc":
            size = -(-event.nbytes // BLOCK_BYTES) * BLOCK_BYTES
            live[event.slot] = (size, event.category)
            current[event.category] += size
            total += size
            if total > peak_total:
                peak_total, peak = total, dict(current)
        elif event.kind == "free":
            size, category = live.pop(event.slot)
            current[category] -= size
            total -= size
        else:
            size, category = live[event.slot]
            current[category] -= size
            current[event.category] += size
            live[event.slot] = (size, event.category)
            if total == peak_total:  # still at the peak: a gradient is labelled after its op
                peak = dict(current)
        if event.kind != "free":
            most[event.category] = max(most[event.category], current[event.category])
    return MemoryPrediction(
        **peak,
        total=peak_total,
        steady_gradients=most["gradients"],
        steady_optimizer_state=most["optimizer_state"],
    )


def block_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the tensors' storages, each rounded up to the allocator's block."""
    storages = {id(t.untyped_storage()): t.untyped_storage().nbytes() for t in tensors}
    return sum(-(-nbytes // BLOCK_BYTES) * BLOCK_BYTES for nbytes in storages.values())


def _track_model(tracker: StorageTracker, workload: Workload) -> None:
    for tensor in itertools.chain(workload.model.parameters(), workload.model.buffers()):
        tracker.track(tensor, "params")


def trace_train_step(workload: Workload, images: torch.Tensor, labels: torch.Tensor) -> list[Event]:
    """Events of one training step; gradients are labelled as autograd accumulates them."""
    tracker = StorageTracker()
    _track_model(tracker, workload)
    for tensor in workload.optimizer_state():
        tracker.track(tensor, "optimizer_state")
    tracker.track(images)
    tracker.track(labels)
    hooks = [
        param.register_post_accumulate_grad_hook(
            lambda p: tracker.track(p.grad, "gradients")  # type: ignore[arg-type]
        )
        for param in workload.model.parameters()
    ]
    try:
        with tracker:
            workload.train_step(images, labels)
    finally:
        for hook in hooks:
            hook.remove()
    return tracker.events


def trace_infer_step(workload: Workload, images: torch.Tensor) -> list[Event]:
    """Events of one inference step: parameters, buffers, the batch and what the forward makes.

    The optimizer state the workload keeps for its training steps is left out: inference
    needs none.
    """
    tracker = StorageTracker()
    _track_model(tracker, workload)
    tracker.track(images)
    with tracker:
        workload.infer_step(images)
    return tracker.events


_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peak_rss() -> None:
    """Restarts the process's peak RSS (``VmHWM``) from the current RSS.

    Raises:
        Unavailable: off Linux, or where ``/proc/self/clear_refs`` is not writable.
    """
    try:
        _CLEAR_REFS.write_text("5")
    except OSError as exc:
        raise Unavailable(
            f"peak RSS needs a writable /proc/self/clear_refs (Linux): {exc.strerror or exc}"
        ) from None


def peak_rss_bytes() -> int:
    """The process's peak RSS since start or the last ``reset_peak_rss``."""
    for line in _STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise Unavailable("peak RSS: /proc/self/status has no VmHWM line")
