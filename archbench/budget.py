"""The budget check every trial passes before anything is built.

Counting is analytic (microseconds), so an over-budget config is rejected before a model exists
(docs/DESIGN.md, decision 2). Each limit becomes an Optuna constraint (``value <= 0`` is
feasible) so constraint-aware samplers learn the boundary of the feasible region. A latency cap
on a named device (``latency_on``) is checked here too, on the latency the cost model of
``archbench.hwprofile`` predicts there (docs/profiling.md), not on a measurement.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archbench._units import format_bytes, format_count
from archbench.models import ModelConfig, count_params, fit_to_budget, forward_flops
from archbench.spaces import DataShape, SearchSpace

if TYPE_CHECKING:
    from archbench.hwprofile import DeviceSpec


@dataclass(frozen=True)
class Budget:
    """Hard limits of a search. ``None`` means no limit.

    ``max_latency_ms`` caps the latency measured on the trial's device; ``max_predicted_latency_ms``
    caps the latency predicted on ``latency_on`` (a catalogue name or a DEVICE.yaml) at batch
    ``latency_batch``, before anything is built. With ``latency_on`` every decision carries the
    prediction, which a latency objective then uses.
    """

    max_params: int
    max_flops: int | None = None
    max_latency_ms: float | None = None
    min_batch: int | None = None
    memory_bytes: int | None = None
    fit: bool = False
    latency_on: str | None = None
    max_predicted_latency_ms: float | None = None
    latency_batch: int = 1

    def __post_init__(self) -> None:
        if self.max_params < 1:
            raise ValueError(f"max_params: must be positive, got {self.max_params}")
        if self.min_batch is not None and self.memory_bytes is None:
            raise ValueError("min_batch: --min-batch needs --memory (a size or a GPU name)")
        if self.max_predicted_latency_ms is not None and self.latency_on is None:
            raise ValueError("max_latency_ms: a predicted latency cap needs --latency-on DEVICE")
        if self.latency_batch < 1:
            raise ValueError(f"latency_batch: must be >= 1, got {self.latency_batch}")
        if self.latency_on is not None:
            latency_device(self.latency_on)  # an unknown device fails here, not in a trial


@dataclass(frozen=True)
class Decision:
    """What the budget check says about one sampled config."""

    config: ModelConfig
    sampled_config: ModelConfig
    n_params: int
    constraints: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    predicted_latency_ms: float | None = None

    @property
    def rejected(self) -> bool:
        return self.reason is not None


@functools.lru_cache(maxsize=16)
def latency_device(text: str) -> DeviceSpec:
    """The device of ``--latency-on``, read once per process (``cpu`` is measured once)."""
    from archbench.hwprofile import get_device

    return get_device(text)


def decide(cfg: ModelConfig, budget: Budget) -> Decision:
    """Checks the analytic limits (params, FLOPs, predicted max batch, predicted latency on
    ``budget.latency_on``) of ``cfg``.

    A measured latency cap (``max_latency_ms``) is checked later by the runner, on the trial's
    device.
    """
    sampled = cfg
    if budget.fit and count_params(cfg) > budget.max_params:
        with contextlib.suppress(ValueError):  # still over budget: rejected below
            cfg = fit_to_budget(cfg, budget.max_params)
    n_params = count_params(cfg)
    constraints = {"max_params": float(n_params - budget.max_params)}
    if n_params > budget.max_params:
        reason = (
            f"{format_count(n_params)} params over the budget of {format_count(budget.max_params)}"
        )
        return Decision(cfg, sampled, n_params, constraints, reason)
    if budget.max_flops is not None:
        flops = forward_flops(cfg)
        constraints["max_flops"] = float(flops - budget.max_flops)
        if flops > budget.max_flops:
            reason = f"{format_count(flops)} FLOPs over the cap of {format_count(budget.max_flops)}"
            return Decision(cfg, sampled, n_params, constraints, reason)
    if budget.min_batch is not None and budget.memory_bytes is not None:
        from archbench.hwprofile import predict_max_batch_size

        max_batch = predict_max_batch_size(cfg, budget.memory_bytes)
        constraints["min_batch"] = float(budget.min_batch - max_batch)
        if max_batch < budget.min_batch:
            reason = (
                f"predicted max training batch {max_batch} on {format_bytes(budget.memory_bytes)} "
                f"is below {budget.min_batch}"
            )
            return Decision(cfg, sampled, n_params, constraints, reason)
    if budget.latency_on is None:
        return Decision(cfg, sampled, n_params, constraints)
    from archbench.hwprofile import predict_latency

    device = latency_device(budget.latency_on)
    latency = predict_latency([cfg], device, batch_size=budget.latency_batch)[0].ms
    cap = budget.max_predicted_latency_ms
    if cap is not None:
        constraints["max_latency_ms"] = latency - cap
        if latency > cap:
            reason = (
                f"predicted latency {latency:.2f} ms on {device.name} at batch "
                f"{budget.latency_batch} over the cap of {cap:g} ms"
            )
            return Decision(cfg, sampled, n_params, constraints, reason, latency)
    return Decision(cfg, sampled, n_params, constraints, predicted_latency_ms=latency)


def ensure_feasible(space: SearchSpace, budget: Budget, shape: DataShape) -> int:
    """Fails early when even the smallest config of ``space`` is over the parameter budget.

    Returns:
        The smallest parameter count in the space.

    Raises:
        ValueError: naming the minimum, so the user knows which budget would work.
    """
    minimum = space.min_params(shape)
    if minimum > budget.max_params:
        raise ValueError(
            f"max_params: no config of space {space.name!r} fits {format_count(budget.max_params)} "
            f"({budget.max_params:,}); its smallest config has {minimum:,} params for "
            f"{shape.in_channels}x{shape.input_size}x{shape.input_size} inputs and "
            f"{shape.num_classes} classes"
        )
    return minimum
