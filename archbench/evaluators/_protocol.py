"""The evaluator protocol: what an evaluator is handed, what it returns, and how it fails.

Backend-neutral: the caller passes ``report(epoch, metrics)`` and ``should_stop()`` (Optuna's
``trial.report``/``should_prune`` or Ray's ``tune.report``).
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from archbench.models import ModelConfig

Report = Callable[[int, dict[str, float]], None]
ShouldStop = Callable[[], bool]
OnProfile = Callable[[dict[str, Any]], None]


@dataclass
class TrialOutcome:
    """What a trial's evaluator produced; ``stopped_early`` means the pruner/scheduler stopped it.

    ``benchmark`` ({name, dataset}) names the table the accuracy was looked up in.
    """

    metrics: list[dict[str, float]] = field(default_factory=list)
    val_accuracy: float = 0.0
    epochs_trained: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    profile: dict[str, Any] | None = None
    benchmark: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TrialError(RuntimeError):
    """A trial failed; ``reason`` is the one line stored with it (OOM, non-finite loss, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LatencyRejection(Exception):
    """The measured latency is over ``--max-latency-ms``: the trial is rejected, not failed."""

    def __init__(self, latency_ms: float, limit_ms: float, profile: dict[str, Any]) -> None:
        super().__init__(f"latency {latency_ms:.2f} ms over the cap of {limit_ms:g} ms")
        self.latency_ms = latency_ms
        self.limit_ms = limit_ms
        self.profile = profile


class Evaluator(Protocol):
    """Config -> outcome. Picklable: with process isolation it runs in the trial's child."""

    @property
    def in_child_process(self) -> bool:
        """Whether each evaluation runs in a fresh process of its own (``--isolation``)."""
        ...

    def release(self) -> None:
        """Returns what an inline evaluation held (accelerator memory) before the next one."""

    def __call__(
        self,
        cfg: ModelConfig,
        report: Report,
        should_stop: ShouldStop,
        on_profile: OnProfile | None = None,
    ) -> TrialOutcome: ...


def describe_failure(exc: BaseException) -> str:
    """One line that says why a trial failed."""
    from archbench.hwprofile import is_oom_error
    from archbench.train import NonFiniteLossError

    if isinstance(exc, TrialError):
        return exc.reason
    if is_oom_error(exc):
        lines = str(exc).strip().splitlines()
        return "out of memory: " + (lines[0][:200] if lines else type(exc).__name__)
    if isinstance(exc, NonFiniteLossError):
        return f"non-finite loss: {exc}"
    message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def free_accelerator_memory() -> None:
    """Returns the memory of a finished trial before the next one starts."""
    import torch

    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
