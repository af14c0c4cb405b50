"""How a trial ends: the one function that decides a trial's status, for both backends and for
the ledger's sweep.

The Optuna objective and the Ray driver each describe what they saw as an ``Ending``; ``settle``
turns it into the status, the reason, the constraints, and whether the search's stop policy
counts it (``archbench/search/_policy.py``). A budget rejection (``archbench.budget.decide``)
and a refused claim (``_ledger.claim``) end a trial before it trains; anything else ends after
its evaluator ran, or when the sweep finds its process dead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archbench.store._status import FAILED, PRUNED, REJECTED, TRAINED


@dataclass(frozen=True)
class Ending:
    """What became of a trial, as its backend saw it.

    Attributes:
        constraints: the budget decision's constraints (> 0 is infeasible).
        over_budget: the budget's reason when the decision rejected the config.
        refused: why it was turned away without counting against the budget: its claim found
            every ``--trials`` slot taken (``quota reached``), or no enqueued config was left.
        epochs: the epochs the evaluator reported.
        stopped_by: the pruner or scheduler that stopped it before its last epoch.
        profile: the measured profile, whose latency meets ``--max-latency-ms``.
        failed: why the evaluator failed (one line).
    """

    constraints: Mapping[str, float] = field(default_factory=dict)
    over_budget: str | None = None
    refused: str | None = None
    epochs: int = 0
    stopped_by: str | None = None
    profile: dict[str, Any] | None = None
    failed: str | None = None


@dataclass(frozen=True)
class Settlement:
    """A trial's status, its reason, its constraints, and whether the stop policy counts it."""

    status: str
    reason: str | None
    constraints: dict[str, float]
    counts_as_rejection: bool = False


def settle(ending: Ending, *, max_latency_ms: float | None = None) -> Settlement:
    """The status of a trial that ended as ``ending`` says.

    - rejected: over the budget, turned away (``quota reached``), or a measured latency over
      ``max_latency_ms``, which also becomes the ``max_latency_ms`` constraint;
    - failed: the evaluator's named failure, or no epoch reported at all;
    - pruned: stopped by the pruner or scheduler after some epochs;
    - trained: otherwise.
    """
    constraints = dict(ending.constraints)
    if ending.over_budget is not None:
        return Settlement(REJECTED, ending.over_budget, constraints, counts_as_rejection=True)
    if ending.refused is not None:
        return Settlement(REJECTED, ending.refused, constraints)
    latency = (ending.profile or {}).get("latency_ms_median")
    if max_latency_ms is not None and latency is not None:
        constraints["max_latency_ms"] = latency - max_latency_ms
    if ending.failed is not None:
        return Settlement(FAILED, ending.failed, constraints)
    if constraints.get("max_latency_ms", 0.0) > 0:
        reason = f"latency {latency:.2f} ms over the cap of {max_latency_ms:g} ms"
        return Settlement(REJECTED, reason, constraints, counts_as_rejection=True)
    if ending.epochs == 0:
        return Settlement(FAILED, "the trial ended without reporting an epoch", constraints)
    if ending.stopped_by is not None:
        reason = f"stopped by {ending.stopped_by} after epoch {ending.epochs}"
        return Settlement(PRUNED, reason, constraints)
    return Settlement(TRAINED, None, constraints)
