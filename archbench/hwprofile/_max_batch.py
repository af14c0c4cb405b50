"""The largest training batch that fits: the search, and real probes on a CUDA device.

The search (``search_max_batch``) only sees a monotone ``fits(batch_size) -> bool``, so the same
code bisects over simulated memory (``_predict``) and over real training steps, and tests drive
it with an injected limit. It follows Lightning's ``binsearch`` mode (double until the first
failure, then bisect between the last fit and that failure), starting from the prediction rather
than from 2, and it doubles at most twice before bisecting the rest of the range, which bounds
it at ``ceil(log2(limit)) + 3`` probes whatever the start.

Real probes run in a spawned child process (timm's ``bulk_runner`` isolation): an out-of-memory
error is recovered from in the child, in any of its forms (``is_oom_error``, after Lightning's:
at the limit cuDNN and cuBLAS fail to allocate with their own messages). Any other CUDA error,
such as an illegal memory access, leaves the CUDA context unusable, so the child reports it and
exits; the child is then restarted once and asked again, and a second failure stops the
search. A probe that does not answer within its deadline (a hung driver call) gets the child
killed and the search stopped with that reason. Each probe runs at least two full training
steps (Lightning runs three), so that the optimizer state and a second step's allocation
pattern are included, and memory is released outside the ``except`` block: inside it the
traceback still holds the failed step's frames and their tensors (PyTorch FAQ, "My out of
memory exception handler can't allocate memory").
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import torch

from archbench.hwprofile._device import limit_memory
from archbench.hwprofile._workload import Workload
from archbench.models import ModelConfig

MAX_BATCH_LIMIT = 65536  # larger than any CIFAR-sized training set; huge grids hit CUDA limits
SAFETY_MARGIN = 0.10  # binsearch finds sizes that "just barely fit" (Lightning #20447, #21154)
# Seconds one probe may take, the child's start (imports, CUDA init, model build) included.
PROBE_DEADLINE_SECONDS = 180.0

# What the CUDA libraries say when an allocation fails at the memory limit, besides torch's own
# out-of-memory error: a lazily loaded kernel ("CUDA error: out of memory") and cuBLAS.
_OOM_MESSAGES = ("out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED")
# cuDNN finds no algorithm whose workspace fits ("unable to find an engine"; Lightning's
# ``is_cudnn_snafu`` names CUDNN_STATUS_NOT_SUPPORTED for the same case). The same words come with
# a real defect (bf16 on a card without it, a layout cuDNN lacks), so they count as out of memory
# only above the smallest batch: a failure at batch 1 would make every batch a "fit" of 0.
_AMBIGUOUS_MESSAGES = ("unable to find an engine", "CUDNN_STATUS_NOT_SUPPORTED")
# torch.OutOfMemoryError is torch >= 2.5's name; torch.cuda.OutOfMemoryError is the same class.
_OUT_OF_MEMORY: type[BaseException] = getattr(
    torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError
)


def is_oom_error(exc: BaseException, *, batch_size: int | None = None) -> bool:
    """Whether ``exc`` means the device ran out of memory (after Lightning's ``is_oom_error``).

    The one classifier of the package: the max-batch probe, the sweep and trial failures use it.

    Args:
        exc: the exception a training or inference step raised.
        batch_size: the batch that failed; at 1 (nothing smaller to fall back to), cuDNN's
            "no engine" errors are defects, not memory.
    """
    if isinstance(exc, _OUT_OF_MEMORY):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    message = str(exc)
    if any(text in message for text in _OOM_MESSAGES):
        return True
    return batch_size != 1 and any(text in message for text in _AMBIGUOUS_MESSAGES)


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message``, or the type alone when the message is empty."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@dataclass(frozen=True)
class MaxBatchSearch:
    """Outcome of a search: the largest fitting batch (0 if even 1 fails) and every probe."""

    max_batch_size: int
    probes: tuple[tuple[int, bool], ...]
    limit: int

    @property
    def capped(self) -> bool:
        """True when the limit itself fits, so the real maximum may be larger."""
        return self.max_batch_size == self.limit


def search_max_batch(
    fits: Callable[[int], bool], *, start: int, limit: int = MAX_BATCH_LIMIT
) -> MaxBatchSearch:
    """The largest batch size in ``[1, limit]`` for which ``fits`` holds.

    Args:
        fits: whether a batch size fits; must be monotone (fits at b implies fits below b).
        start: first probe, typically the prediction; doubled up to twice while it fits, or
            halved up to twice while it fails, before bisecting what remains.
        limit: the largest batch size considered.

    Returns:
        The result; at most ``ceil(log2(limit)) + 3`` probes, none repeated.
    """
    if limit < 1:
        raise ValueError(f"limit: must be >= 1, got {limit}")
    fitting, failing = 0, limit + 1  # largest known fit, smallest known failure
    probes: list[tuple[int, bool]] = []

    def probe(batch_size: int) -> bool:
        nonlocal fitting, failing
        fit = fits(batch_size)
        probes.append((batch_size, fit))
        if fit:
            fitting = batch_size
        else:
            failing = batch_size
        return fit

    batch_size = min(max(start, 1), limit)
    for _ in range(3):
        following = min(2 * batch_size, limit) if probe(batch_size) else batch_size // 2
        if not fitting < following < failing:
            break
        batch_size = following
    while failing - fitting > 1:
        probe((fitting + failing) // 2)
    return MaxBatchSearch(max_batch_size=fitting, probes=tuple(probes), limit=limit)


def safe_batch_size(max_batch_size: int, margin: float = SAFETY_MARGIN) -> int:
    """``max_batch_size`` less ``margin`` (rounded down), at least 1 when anything fits."""
    if max_batch_size < 1:
        return 0
    return max(1, int(max_batch_size * (1.0 - margin)))


class ProbeFailed(RuntimeError):
    """The probe process hit an error other than out-of-memory, died, or hung."""


class _ChildFailed(Exception):
    """One failure of the probe child (a non-OOM error or its death): worth one restart."""


class ProbeProcess:
    """A child process that answers "does batch size B train?" with real steps on ``device``.

    Use as a context manager; ``fits`` is the callable to give ``search_max_batch``.

    Args:
        cfg: the architecture.
        device: the device the child trains on (``cuda:N``; ``cpu`` works too, for tests).
        steps_per_probe: training steps run at each batch size.
        deadline: seconds a probe may take before the child is killed (the first probe's
            include the child's start).
        memory_limit: emulate a card of this many bytes in the child (``limit_memory``).
        workload_options: ``Workload`` keywords (optimizer, amp, channels_last).
    """

    def __init__(
        self,
        cfg: ModelConfig,
        device: torch.device | str,
        *,
        steps_per_probe: int = 2,
        deadline: float = PROBE_DEADLINE_SECONDS,
        memory_limit: int | None = None,
        **workload_options: Any,
    ) -> None:
        if steps_per_probe < 2:
            raise ValueError(f"steps_per_probe: must be >= 2, got {steps_per_probe}")
        self._args = (cfg, str(device), steps_per_probe, memory_limit, workload_options)
        self._deadline = deadline
        self._restarted = False
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # a forked CUDA context is unusable
        self._connection, child_end = context.Pipe()
        self._process = context.Process(
            target=_probe_worker, args=(child_end, *self._args), daemon=True
        )
        self._process.start()
        child_end.close()

    def fits(self, batch_size: int) -> bool:
        """Runs the probe in the child; after a non-OOM error or the child's death, restarts
        the child once and asks again.

        Raises:
            ProbeFailed: when the child fails again after its restart, or misses the deadline.
        """
        try:
            return self._ask(batch_size)
        except _ChildFailed as exc:
            if self._restarted:
                raise ProbeFailed(f"{exc}, again after one restart of the probe process") from None
            self._restarted = True
            self._stop()
            self._start()
        try:
            return self._ask(batch_size)
        except _ChildFailed as exc:
            raise ProbeFailed(f"{exc}, again after one restart of the probe process") from None

    def _ask(self, batch_size: int) -> bool:
        deadline = time.monotonic() + self._deadline
        try:
            self._connection.send(batch_size)
            while not self._connection.poll(min(1.0, max(0.0, deadline - time.monotonic()))):
                if not self._process.is_alive() and not self._connection.poll(0):
                    raise EOFError
                if time.monotonic() >= deadline:
                    self._kill()
                    raise ProbeFailed(
                        f"the probe at batch {batch_size} did not answer within "
                        f"{self._deadline:g} s; the probe process was killed"
                    )
            kind, value = self._connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self._process.join(5)
            raise _ChildFailed(
                f"the probe process died at batch {batch_size} (exit code {self._process.exitcode})"
            ) from None
        if kind == "error":
            raise _ChildFailed(f"probe at batch {batch_size} failed: {value}")
        return bool(value)

    def _kill(self) -> None:
        self._process.kill()
        self._process.join()

    def _stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):  # the child may be gone already
                self._connection.send(None)
            self._process.join(30)
        if self._process.is_alive():
            self._kill()
        self._connection.close()

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> ProbeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _probe_worker(
    connection: Connection,
    cfg: ModelConfig,
    device: str,
    steps_per_probe: int,
    memory_limit: int | None,
    workload_options: dict[str, Any],
) -> None:
    """Child side: build once, then answer batch sizes until ``None`` or a fatal error."""
    try:
        if memory_limit is not None:
            limit_memory(torch.device(device), memory_limit)
        workload = Workload(cfg, device, **workload_options)
        while (batch_size := connection.recv()) is not None:
            connection.send(("fit", _probe(workload, batch_size, steps_per_probe)))
    except Exception as exc:  # anything but an OOM poisons the CUDA context: report it and exit
        connection.send(("error", first_line(exc)))
    finally:
        connection.close()


def _train_steps(workload: Workload, batch_size: int, steps: int) -> None:
    images, labels = workload.batch(batch_size)
    for _ in range(steps):
        workload.train_step(images, labels)
    if workload.device.type == "cuda":
        torch.cuda.synchronize(workload.device)


def _probe(workload: Workload, batch_size: int, steps: int) -> bool:
    try:
        _train_steps(workload, batch_size, steps)
        out_of_memory = False
    except RuntimeError as exc:  # torch.OutOfMemoryError is one
        if not is_oom_error(exc, batch_size=batch_size):
            raise
        out_of_memory = True
    workload.optimizer.zero_grad(set_to_none=True)
    gc.collect()
    if workload.device.type == "cuda":
        torch.cuda.empty_cache()
    return not out_of_memory


def measure_max_batch_size(
    cfg: ModelConfig,
    device: torch.device | str,
    *,
    start: int,
    limit: int = MAX_BATCH_LIMIT,
    memory_limit: int | None = None,
    **workload_options: Any,
) -> MaxBatchSearch:
    """Measured largest training batch on a CUDA device, probed in a child process.

    Args:
        cfg: the architecture.
        device: a CUDA device.
        start: first probe, typically ``predict_max_batch_size`` for the device's memory.
        limit: the largest batch size considered.
        memory_limit: emulate a card of this many bytes (``limit_memory``).
        workload_options: ``Workload`` keywords (optimizer, amp, channels_last).

    Raises:
        ValueError: for a non-CUDA device: a CPU allocation failure usually gets the process
            killed by the OOM killer instead of raising, so CPU RAM is never probed.
        ProbeFailed: when a probe fails twice with a non-OOM error, or hangs.
    """
    if torch.device(device).type != "cuda":
        raise ValueError(
            f"device: measuring the max batch size needs a CUDA device, got {device}; "
            "use predict_max_batch_size for a memory size instead"
        )
    with ProbeProcess(cfg, device, memory_limit=memory_limit, **workload_options) as probe:
        return search_max_batch(probe.fits, start=start, limit=limit)
