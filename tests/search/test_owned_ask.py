"""The ledger's ``ask``: a new trial names its owner in the write that creates it, so a process
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

from archbench.search import open_storage
from archbench.search._ledger import sweep_and_count
from archbench.search._record import Owner
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


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_process_killed_as_it_asks_leaves_a_trial_the_sweep_fails(
    kind: str, tmp_path: Path
) -> None:
    url = storage_url(kind, tmp_path)
    study = optuna.create_study(study_name="a", storage=open_storage(url, heartbeat_seconds=None))
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
