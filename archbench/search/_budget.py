"""The budget check every trial passes before anything is built.

Counting is analytic (microseconds), so an over-budget config is rejected before a model exists
(docs/DESIGN.md, decision 2). Each limit becomes an Optuna constraint (``value <= 0`` is
feasible) so constraint-aware samplers learn the boundary of the feasible region.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from archbench._units import format_bytes, format_count
from archbench.models import ModelConfig, count_params, fit_to_budget, forward_flops
from archbench.spaces import DataShape, SearchSpace


@dataclass(frozen=True)
class Budget:
    """Hard limits of a search. ``None`` means no limit."""

    max_params: int
    max_flops: int | None = None
    max_latency_ms: float | None = None
    min_batch: int | None = None
    memory_bytes: int | None = None
    fit: bool = False

    def __post_init__(self) -> None:
        if self.max_params < 1:
            raise ValueError(f"max_params: must be positive, got {self.max_params}")
        if self.min_batch is not None and self.memory_bytes is None:
            raise ValueError("min_batch: --min-batch needs --memory (a size or a GPU name)")


@dataclass(frozen=True)
class Decision:
    """What the budget check says about one sampled config."""

    config: ModelConfig
    sampled_config: ModelConfig
    n_params: int
    constraints: dict[str, float] = field(default_factory=dict)
    reason: str | None = None

    @property
    def rejected(self) -> bool:
        return self.reason is not None


def decide(cfg: ModelConfig, budget: Budget) -> Decision:
    """Checks the analytic limits (params, FLOPs, predicted max batch) of ``cfg``.

    Latency needs a measurement and is checked later by the runner, on the trial's device.
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
    return Decision(cfg, sampled, n_params, constraints)


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
            f"({budget.max_params:,}); its smallest config has {minimum:,} params"
        )
    return minimum
