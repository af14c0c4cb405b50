"""Who runs a trial, and whether that process is still alive.

A RUNNING trial names its owner (host, pid, process start time). A search fails at once the
RUNNING trials of its study whose owner ran on this host and is gone, and retries their configs;
owners on other hosts are left to the storage's heartbeat (DESIGN.md, decision 8). The start
time tells a reused pid apart from the owner.
"""

from __future__ import annotations

import contextlib
import copy
import os
import socket
import warnings
from functools import lru_cache

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from archbench.search._record import FAILED, Owner, write_status

MAX_RETRIES = 2  # as the heartbeat's RetryHeartbeatStaleTrialCallback in _storage.py


def host_name() -> str:
    return socket.gethostname()


def process_start_time(pid: int) -> str | None:
    """When ``pid`` started, in the OS's own units; None when it is gone or cannot be told.

    Linux: field 22 of ``/proc/<pid>/stat`` (clock ticks since boot); a zombie counts as gone.
    Elsewhere psutil's ``create_time`` where psutil is installed.
    """
    stat = f"/proc/{pid}/stat"
    if os.path.exists("/proc/self/stat"):
        try:
            with open(stat) as file:
                text = file.read()
        except OSError:
            return None
        fields = text.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
        if fields[0] in ("Z", "X"):  # killed, not yet reaped
            return None
        return f"proc:{fields[19]}"
    try:
        import psutil
    except ImportError:
        return "unknown" if _pid_exists(pid) else None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"psutil:{process.create_time():.2f}"
    except psutil.Error:
        return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@lru_cache(maxsize=1)
def _me() -> tuple[str, int, str | None]:
    pid = os.getpid()
    return host_name(), pid, process_start_time(pid)


def this_process(trial_number: int) -> Owner:
    """The owner record of this process for trial ``trial_number``."""
    host, pid, started = _me()
    if pid != os.getpid():  # a forked child: not the cached process
        _me.cache_clear()
        host, pid, started = _me()
    return Owner(host, pid, started, trial_number)


def is_dead(owner: Owner) -> bool:
    """True only when ``owner`` ran on this host and is gone (or its pid now names another)."""
    if owner.host != host_name():
        return False
    started = process_start_time(owner.pid)
    if started is None:
        return True
    return owner.started not in (None, "unknown") and started not in ("unknown", owner.started)


def fail_orphans(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> list[int]:
    """Fails the RUNNING trials of ``study`` whose local owner died, and retries their configs.

    ``trials``: the study's trials as just read, to save a read of the storage.

    Safe when several processes sweep at once: the storage lets only one of them finish a trial,
    and only that one enqueues the retry.

    Returns:
        The numbers of the trials this call failed.
    """
    storage = study._storage  # the public Study API cannot finish another process's trial
    failed: list[int] = []
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in trials:
        owner = Owner.of(trial)
        if trial.state != TrialState.RUNNING or owner is None or not is_dead(owner):
            continue
        reason = f"its process (pid {owner.pid} on {owner.host}) died; config retried"
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            write_status(_TrialAttrs(storage, trial._trial_id), FAILED, reason)
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial.number)
                retry(study, copy.deepcopy(storage.get_trial(trial._trial_id)))
    return failed


def retry(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueues ``trial``'s params again, as the heartbeat does for a stale trial."""
    with warnings.catch_warnings():  # the callback is marked experimental; it is what we mean
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)(study, trial)


class _TrialAttrs:
    """``set_user_attr`` on a trial of another process, through the storage."""

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int) -> None:
        self.storage = storage
        self.trial_id = trial_id

    def set_user_attr(self, key: str, value: object) -> None:
        self.storage.set_trial_user_attr(self.trial_id, key, value)
