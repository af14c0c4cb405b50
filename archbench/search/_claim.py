"""Claiming one of the ``--trials N`` slots of a study through its storage, before training.

A trial claims by writing its owner (one storage write), then reads the study's trials back and
counts the slots taken: trials that trained (or were pruned after training) plus RUNNING trials
holding a claim, its own included. It trains only if that count is at most N; otherwise it ends
rejected with the reason ``quota reached`` and its claim is gone with it. Failed and rejected
trials hold no slot, so a failure frees its slot for a retry.

Why this never trains more than N (any storage whose reads see every committed write: SQLite,
PostgreSQL, a journal file): take the last of N + 1 admitted claims to be written. Its read came
after every other write, so it counted N + 1 slots and was refused. The price is the other way:
two claims written within one another's write-to-read window both count each other, and at the
last free slot both may refuse. Both are then recorded as rejected (``quota reached``), and
their processes try again while the study holds fewer than N trained trials.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from archbench.search._owner import fail_orphans, this_process
from archbench.search._record import OWNER, Owner, is_trained


def holds_slot(trial: FrozenTrial) -> bool:
    """Trained, pruned after training, or RUNNING with a claim of its own."""
    if trial.state == TrialState.RUNNING:
        return Owner.of(trial) is not None
    return is_trained(trial)


def count_slots(trials: list[FrozenTrial]) -> int:
    return sum(holds_slot(t) for t in trials)


def sweep_and_count(study: optuna.Study) -> int:
    """Fails the trials of dead local owners (``_owner.py``), then counts the slots taken.

    One read of the storage serves both.
    """
    trials = study.get_trials(deepcopy=False)
    failed = set(fail_orphans(study, trials))
    return count_slots([t for t in trials if t.number not in failed])


def write_claim(trial: optuna.Trial) -> None:
    """Names this process as ``trial``'s owner: the claim, one storage write."""
    trial.set_user_attr(OWNER, this_process(trial.number).to_dict())


def claim(study: optuna.Study, trial: optuna.Trial) -> int:
    """Writes the claim, then sweeps dead local owners and counts the slots taken, this one
    included: one write and one read of the storage.

    Returns:
        The slots taken as read after the claim; the trial may train if it is at most N.
    """
    write_claim(trial)
    return sweep_and_count(study)
