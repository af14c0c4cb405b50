"""How a trial ends, and when a search stops: the one function that decides a trial's status,
and the stop policy it tells, for both backends.

The Optuna objective and the Ray driver each describe what they saw as an ``Ending``; ``settle``
turns it into the status, the reason, the constraints and what the stop policy is told. A
budget rejection (``archbench.budget.decide``) and a refused claim (``_ledger.claim``) end a
trial before it trains; anything else ends after its evaluator ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archbench.search._settings import SearchSettings
from archbench.store import FAILED, PRUNED, REJECTED, TRAINED


@dataclass
class StopPolicy:
    """Counts what happened in this process and says when to give up, and why.

    Attributes:
        n_trials: trained trials the study must hold in total (every process together).
        rejection_limit: budget rejections in a row before the search gives up.
        failure_limit: failed trials (in this process) before the search gives up.
        problem: why the search gave up, or None while it goes on.
    """

    n_trials: int
    rejection_limit: int
    failure_limit: int
    rejections_in_a_row: int = 0
    failures: int = 0
    problem: str | None = None

    @classmethod
    def of(cls, settings: SearchSettings) -> StopPolicy:
        return cls(settings.n_trials, settings.rejection_limit, max(3, settings.n_trials))

    def quota_full(self, slots_taken: int) -> bool:
        """Whether trained plus claimed trials already fill ``--trials``."""
        return slots_taken >= self.n_trials

    def admits(self, slots_taken_with_this_one: int) -> bool:
        """Whether a trial whose claim is counted in ``slots_taken_with_this_one`` may train."""
        return slots_taken_with_this_one <= self.n_trials

    def accepted(self) -> None:
        self.rejections_in_a_row = 0

    def rejected(self) -> None:
        """A config was rejected by the budget (parameters, FLOPs, memory or latency)."""
        self.rejections_in_a_row += 1
        if self.rejections_in_a_row >= self.rejection_limit and self.problem is None:
            self.problem = (
                f"{self.rejections_in_a_row} proposals in a row were rejected by the budget; "
                "raise --max-params or narrow the space"
            )

    def failed(self, reason: str | None) -> None:
        self.failures += 1
        if self.failures >= self.failure_limit and self.problem is None:
            self.problem = (
                f"{self.failures} trials failed (last: {reason}); "
                "see `archbench results --state failed`"
            )


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

    def tell(self, policy: StopPolicy) -> None:
        """What the stop policy learns: a rejection by the budget, or a failure."""
        if self.status == FAILED:
            policy.failed(self.reason)
        elif self.counts_as_rejection:
            policy.rejected()


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
