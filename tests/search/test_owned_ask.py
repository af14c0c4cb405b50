"""The ledger's ``ask``: a trial names its owner before it is RUNNING, so a process killed right
after it asked leaves nothing that the next sweep cannot fail (real SQLite and journal files)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from archbench.search import open_storage
from archbench.search._ledger import ask, sweep_and_count
from archbench.search._record import OWNER, Owner
from tests.conftest import child_env

# Asks on the study, and is killed once the trial is RUNNING in the storage: before ``ask``
# returns, so that nothing else can have been written to it.
_ASK_AND_DIE = """
import os, signal, sys
import optuna
from archbench.search import open_storage
from archbench.search._ledger import ask

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

storage = open_storage(sys.argv[1], heartbeat_seconds=None)
study = optuna.load_study(study_name="a", storage=storage)
optuna.Trial.__init__ = die
ask(study)
"""


def storage_url(kind: str, folder: Path) -> str:
    return f"sqlite:///{folder}/a.db" if kind == "sqlite" else str(folder / "a.log")


@pytest.mark.parametrize("enqueued", [False, True], ids=["new", "enqueued"])
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_process_killed_as_it_asks_leaves_a_trial_the_sweep_fails(
    kind: str, enqueued: bool, tmp_path: Path
) -> None:
    url = storage_url(kind, tmp_path)
    study = optuna.create_study(study_name="a", storage=open_storage(url, heartbeat_seconds=None))
    if enqueued:
        study.enqueue_trial({"x": 1})
    killed = subprocess.Popen(
        [sys.executable, "-c", _ASK_AND_DIE, url], env=child_env(), stderr=subprocess.PIPE
    )
    _, stderr = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL, stderr
    [asked] = study.get_trials()
    assert asked.state == TrialState.RUNNING
    owner = Owner.of(asked)
    assert owner is not None and owner.pid == killed.pid and not owner.claimed

    sweep_and_count(study)
    [failed] = study.get_trials()  # not claimed: its config is not retried
    assert failed.state == TrialState.FAIL
    assert "died before its claim" in failed.user_attrs["reason"]


def test_the_process_that_takes_an_enqueued_trial_owns_it_whoever_wrote_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes write their owner onto the same waiting trial; the one whose switch to
    RUNNING wins names itself again if the other's write came last."""
    storage = open_storage(f"sqlite:///{tmp_path}/a.db", heartbeat_seconds=None)
    study = optuna.create_study(study_name="a", storage=storage)
    study.enqueue_trial({"x": 1})
    other = Owner("another-host", 1, None, 0).to_dict()
    switch = storage.set_trial_state_values

    def after_the_other_owner(trial_id: int, *args: object, **kwargs: object) -> bool:
        storage.set_trial_user_attr(trial_id, OWNER, other)  # lands between our two writes
        return switch(trial_id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(storage, "set_trial_state_values", after_the_other_owner)
    trial = ask(study)
    owner = Owner.of(study.get_trials()[0])
    assert trial.number == 0 and owner is not None
    assert (owner.host, owner.pid) != ("another-host", 1) and owner.pid == os.getpid()
