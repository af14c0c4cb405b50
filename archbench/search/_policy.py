"""When a search stops: the stop policy that ``settle``'s verdicts are told to, per process."""

from __future__ import annotations

from dataclasses import dataclass

from archbench.search._settings import SearchSettings
from archbench.store import FAILED, Settlement


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

    def tell(self, settled: Settlement) -> None:
        """What the policy learns from a trial's settlement: a rejection by the budget, or a
        failure."""
        if settled.status == FAILED:
            self.failed(settled.reason)
        elif settled.counts_as_rejection:
            self.rejected()

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
