"""``settle``: the one place a trial's status is decided, for both backends."""

from __future__ import annotations

import pytest

from archbench.search._policy import StopPolicy
from archbench.store import FAILED, PRUNED, REJECTED, TRAINED, Ending, settle

FAST = {"latency_ms_median": 2.0}
SLOW = {"latency_ms_median": 7.5}


@pytest.mark.parametrize(
    ("ending", "status", "reason"),
    [
        (Ending({"max_params": 5.0}, over_budget="params 105 > 100"), REJECTED, "params 105 > 100"),
        (Ending(refused="quota reached"), REJECTED, "quota reached"),
        (Ending(profile=SLOW), REJECTED, "latency 7.50 ms over the cap of 5 ms"),
        (Ending(epochs=2, profile=SLOW, failed="non-finite loss"), FAILED, "non-finite loss"),
        (Ending(profile=FAST), FAILED, "the trial ended without reporting an epoch"),
        (Ending(epochs=1, stopped_by="ASHA"), PRUNED, "stopped by ASHA after epoch 1"),
        (Ending(epochs=3, profile=FAST), TRAINED, None),
    ],
    ids=["budget", "quota", "latency", "failed", "no-epoch", "pruned", "trained"],
)
def test_each_ending_settles_to_one_status(ending: Ending, status: str, reason: str | None) -> None:
    settled = settle(ending, max_latency_ms=5.0)
    assert (settled.status, settled.reason) == (status, reason)


def test_the_measured_latency_becomes_a_constraint_beside_the_budgets() -> None:
    settled = settle(Ending({"max_params": -10.0}, epochs=3, profile=FAST), max_latency_ms=5.0)
    assert settled.constraints == {"max_params": -10.0, "max_latency_ms": -3.0}
    assert settle(Ending(epochs=3, profile=FAST)).constraints == {}  # no cap, no constraint


def test_the_stop_policy_counts_budget_rejections_and_failures_only() -> None:
    policy = StopPolicy(n_trials=5, rejection_limit=2, failure_limit=1)
    policy.tell(settle(Ending(refused="quota reached")))
    policy.tell(settle(Ending(epochs=3)))
    assert policy.problem is None
    policy.tell(settle(Ending(over_budget="params 105 > 100")))
    policy.tell(settle(Ending(profile=SLOW), max_latency_ms=5.0))
    assert policy.problem is not None and "2 proposals in a row" in policy.problem
    failing = StopPolicy(n_trials=5, rejection_limit=2, failure_limit=1)
    failing.tell(settle(Ending(failed="out of memory")))
    assert failing.problem is not None and "out of memory" in failing.problem
