"""How archbench writes trials into an Optuna storage, and how it reads them back.

The storage is the one source of truth (docs/DESIGN.md, decision 8): the leaderboard, the report and
the export read only what is written here, whichever backend ran the search. The keys are listed
in docs/CONTRACTS.md.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

TRAINED, REJECTED, PRUNED, FAILED, RUNNING = "trained", "rejected", "pruned", "failed", "running"

OBJECTIVES: dict[str, Literal["minimize", "maximize"]] = {
    "accuracy": "maximize",
    "params": "minimize",
    "latency": "minimize",
    "throughput": "maximize",
}


def trial_status(trial: FrozenTrial) -> str:
    """archbench's view of a trial: trained, rejected, pruned, failed or running."""
    status = trial.user_attrs.get("status")
    if trial.state == TrialState.RUNNING or trial.state == TrialState.WAITING:
        return RUNNING
    if trial.state == TrialState.FAIL:
        return FAILED
    if status in (TRAINED, REJECTED, PRUNED, FAILED):
        return str(status)
    return PRUNED if trial.state == TrialState.PRUNED else TRAINED


def counts_by_status(study: optuna.Study) -> Counter[str]:
    trials = study.get_trials(deepcopy=False)
    return Counter(trial_status(t) for t in trials)


def trained_count(study: optuna.Study) -> int:
    """Trials that trained, to completion or until the pruner stopped them."""
    counts = counts_by_status(study)
    return counts[TRAINED] + counts[PRUNED]


def is_trained(trial: FrozenTrial) -> bool:
    return trial_status(trial) in (TRAINED, PRUNED)
