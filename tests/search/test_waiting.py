"""Trials a killed Ray driver had asked, owned again by the driver that restores its experiment
(``_ledger.reown``), on a real SQLite storage."""

from __future__ import annotations

import subprocess
from pathlib import Path

import optuna
from optuna.trial import TrialState

from archbench.store import OWNER, POOL_INDEX, Owner, host_name, open_storage, process_start_time
from archbench.store._ledger import reown, sweep_and_count


def dead_owner(trial: int) -> dict:
    """The owner record of a process of this host that has exited."""
    process = subprocess.Popen(["true"])
    started = process_start_time(process.pid)
    process.wait()
    return Owner(host_name(), process.pid, started, trial, claimed=True).to_dict()


def test_a_restored_drivers_taken_trials_are_owned_again_not_swept(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/w.db")
    study = optuna.create_study(study_name="w", storage=storage, direction="maximize")
    for index in range(3):
        study.enqueue_trial({"x": index}, user_attrs={POOL_INDEX: index})
    taken = [study.ask(), study.ask()]  # what the Ray searcher's ask pops first
    assert [t.number for t in taken] == [0, 1]
    for trial in taken:  # the driver that asked them was killed
        trial.set_user_attr(OWNER, dead_owner(trial.number))
    study.tell(0, 0.9)  # the restored experiment had finished this one already

    assert reown(study, [0, 1]) == [1], "only a trial still RUNNING is owned again"
    assert sweep_and_count(study) == 2, "the finished trial and the owned one hold slots"
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states == [TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING]

    taken_again = study.ask()
    assert taken_again.number == 2
    taken_again.set_user_attr(OWNER, dead_owner(2))
    taken_again.set_user_attr("metrics", [{"epoch": 1, "val_accuracy": 0.5}])  # died training
    sweep_and_count(study)  # not owned again: failed, and its config enqueued for a retry
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials][2:] == [TrialState.FAIL, TrialState.WAITING]
    assert "died" in trials[2].user_attrs["reason"]
    assert trials[3].user_attrs == {POOL_INDEX: 2}, "the retry keeps what it was enqueued with"
