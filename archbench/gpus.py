"""Which GPU each search worker and each Ray trial trains on, and when a card is shared.

Two workers, or two fractional Ray trials, on one card time each other's kernels and see each
other's memory, so their latency, throughput and NVML figures are not the model's own. Optuna
workers therefore get a card each where there are enough (``CUDA_VISIBLE_DEVICES`` per worker
process); where they cannot, the profile says the device was shared and skips the max-batch
probe. Ray reserves GPUs itself: a trial sees only the GPUs it reserved, so the device is
resolved in the driver and mapped onto the actor's own numbering inside it.

Everything here is a pure function of its arguments except ``worker_devices``, which reads this
machine's GPU count without creating a CUDA context (the workers need the memory).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"


@dataclass(frozen=True)
class WorkerDevice:
    """The GPU of one worker process.

    Attributes:
        visible_devices: ``CUDA_VISIBLE_DEVICES`` for the worker (one GPU id), or None to leave
            the environment as it is (a CPU search).
        shared: other workers of the search train on the same card.
    """

    visible_devices: str | None = None
    shared: bool = False

    @property
    def device(self) -> str | None:
        """The worker's device: its one visible GPU is ``cuda:0`` in its own numbering; None
        keeps the search's."""
        return None if self.visible_devices is None else "cuda:0"


def visible_gpus(env_value: str | None, count: int) -> list[str]:
    """The ids of the GPUs this process sees, in CUDA's order: ``count`` of them.

    ``CUDA_VISIBLE_DEVICES`` may hold indices or UUIDs; CUDA ignores everything from the first
    invalid entry on, which ``count`` (torch's device count) already reflects.
    """
    if env_value is None:
        return [str(index) for index in range(count)]
    ids = [part.strip() for part in env_value.split(",") if part.strip()]
    return ids[:count]


def assign_devices(workers: int, gpus: Sequence[str]) -> list[WorkerDevice]:
    """One GPU per worker, round robin over ``gpus``; a card with several workers is shared.

    Without GPUs every worker keeps its environment (a CPU search).
    """
    if workers < 1:
        raise ValueError(f"workers: must be >= 1, got {workers}")
    if not gpus:
        return [WorkerDevice() for _ in range(workers)]
    chosen = [gpus[index % len(gpus)] for index in range(workers)]
    per_card = Counter(chosen)
    return [WorkerDevice(gpu, per_card[gpu] > 1) for gpu in chosen]


def worker_devices(device: str, workers: int) -> list[WorkerDevice]:
    """The GPU of each of ``workers`` worker processes on this machine, for a search on ``device``.

    ``cuda:N`` puts every worker on card N; ``cuda`` and ``auto`` (on a CUDA machine) spread
    them over the visible cards. Reads the device count only: no CUDA context is created here.

    Raises:
        ValueError: for a bad device, or a CUDA device this machine does not have.
    """
    import torch

    from archbench.hwprofile import parse_device, resolve_device

    kind, index = parse_device(device)
    if kind == "cpu" or (kind == "auto" and not torch.cuda.is_available()):
        return assign_devices(workers, [])
    resolve_device(f"cuda:{index or 0}")  # checks it exists without initializing CUDA
    gpus = visible_gpus(os.environ.get(VISIBLE_DEVICES), torch.cuda.device_count())
    return assign_devices(workers, gpus if index is None else [gpus[index]])


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Sets (or, for None, leaves alone) environment variables for the duration of the block.

    A process started inside the block (spawn, or Ray's runtime) inherits them from its start.
    """
    chosen = {key: value for key, value in values.items() if value is not None}
    saved = {key: os.environ.get(key) for key in chosen}
    os.environ.update(chosen)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ray_trial_device(device: str, gpus_per_trial: float) -> str:
    """The device of every Ray trial, resolved in the driver from what each trial reserves.

    ``auto`` trains on the GPU when trials reserve one and on the CPU when they do not: a trial
    that reserved no GPU must not use one, or every trial lands on cuda:0 with nothing reserved.
    ``cuda:N`` becomes ``cuda``: Ray, not the user, picks the card (``actor_device``).

    Raises:
        ValueError: for a CUDA device with no GPU reserved per trial.
    """
    from archbench.hwprofile import parse_device

    kind, _ = parse_device(device)
    if kind == "cpu" or (kind == "auto" and gpus_per_trial == 0):
        return "cpu"
    if gpus_per_trial == 0:
        raise ValueError(
            f"device: --device {device} on Ray needs --gpus-per-trial above 0 (e.g. 1, or 0.5 "
            "to share a card); a trial may only use the GPUs Ray reserved for it"
        )
    return "cuda"


def shares_ray_gpu(device: str, gpus_per_trial: float) -> bool:
    """Whether Ray trials on ``device`` share their card with other trials (a fraction each)."""
    return device == "cuda" and 0 < gpus_per_trial < 1


def reuse_actors(gpus_per_trial: float) -> bool:
    """Ray reuses trial processes on CPUs (seconds of start-up saved per trial), never on
    GPUs: a fresh process returns its CUDA context and cached memory."""
    return gpus_per_trial == 0


def local_gpus_needed(gpus_per_trial: float, local_gpus: int) -> None:
    """Checks a local Ray runtime can place one trial at all; Ray would wait forever.

    Raises:
        ValueError: when a trial reserves more GPUs than this machine has.
    """
    if math.ceil(gpus_per_trial) > local_gpus:
        raise ValueError(
            f"gpus_per_trial: each trial reserves {gpus_per_trial:g} GPU(s), but this machine "
            f"has {local_gpus}; use --gpus-per-trial 0 to train on the CPU, or --ray-address "
            "for a cluster with GPUs"
        )


def actor_device(device: str, assigned: Sequence[str], visible: str | None) -> str:
    """The trial's device inside a Ray actor, in the actor's own CUDA numbering.

    Ray sets ``CUDA_VISIBLE_DEVICES`` to the GPUs it ``assigned`` the actor, so the first of
    them is ``cuda:0``; with ``RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES`` the actor sees the
    whole node and the assigned GPU keeps its place in ``visible``.

    Raises:
        ValueError: for a CUDA trial to which Ray assigned no GPU.
    """
    if device == "cpu":
        return "cpu"
    if not assigned:
        raise ValueError("device: Ray assigned this CUDA trial no GPU (--gpus-per-trial 0?)")
    first = str(assigned[0])
    if visible is None:
        return f"cuda:{first}"  # the whole node is visible, in its own numbering
    ids = [part.strip() for part in visible.split(",")]
    if first not in ids:
        raise ValueError(
            f"device: Ray assigned GPU {first}, which {VISIBLE_DEVICES}={visible} hides"
        )
    return f"cuda:{ids.index(first)}"
