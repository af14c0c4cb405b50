"""The ledger's ``ask``: a trial names its owner in the write that makes it RUNNING, so a process
killed right after it asked leaves nothing that the next sweep cannot fail (real SQLite and
journal files)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from archbench.store import OWNER, Owner, open_storage, owner_of
from archbench.store._ledger import _take, ask, sweep_and_count
from tests.conftest import child_env

# Asks on the study, and is killed once the trial is RUNNING in the storage: before ``ask``
# returns, so that nothing else can have been written to it.
_ASK_AND_DIE = """
import os, signal, sys
import optuna
from archbench.store import open_storage
from archbench.store._ledger import ask

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

storage = open_storage(sys.argv[1])
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
    study = optuna.create_study(study_name="a", storage=open_storage(url))
    if enqueued:
        study.enqueue_trial({"x": 1})
    killed = subprocess.Popen(
        [sys.executable, "-c", _ASK_AND_DIE, url], env=child_env(), stderr=subprocess.PIPE
    )
    _, stderr = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL, stderr
    [asked] = study.get_trials()
    assert asked.state == TrialState.RUNNING
    owner = owner_of(asked)
    assert owner is not None and owner.pid == killed.pid and not owner.claimed

    sweep_and_count(study)
    [failed] = study.get_trials()  # not claimed: its config is not retried
    assert failed.state == TrialState.FAIL
    assert "died before its claim" in failed.user_attrs["reason"]


@pytest.mark.parametrize("kind", ["sqlite", "journal", "postgres"])
def test_an_enqueued_trial_is_taken_once_with_its_owner(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The switch and the owner are one transaction on a database (``_ledger._take``)."""
    if kind == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = storage_url(kind, tmp_path)
    storage = open_storage(url)
    study = optuna.create_study(study_name=f"taken-{tmp_path.name}", storage=storage)
    study.enqueue_trial({"x": 1})
    trial = study.get_trials()[0]
    owner = Owner("elsewhere", 1, None, 0).to_dict()
    assert _take(study._storage, trial._trial_id, owner)
    assert not _take(study._storage, trial._trial_id, {**owner, "pid": 2}), "taken already"
    [taken] = study.get_trials()
    assert taken.state == TrialState.RUNNING and taken.user_attrs[OWNER] == owner
    assert ask(study).number == 1, "the next ask creates a trial of its own"
