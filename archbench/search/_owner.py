"""Who runs a trial, and whether that process is still alive.

A RUNNING trial names its owner (host, pid, process start time); the ledger (``_ledger.py``)
fails the trials of owners that ran on this host and are gone. The start time tells a reused pid
apart from the owner.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache

from archbench.search._record import Owner


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


def this_process(trial_number: int, *, claimed: bool = False) -> Owner:
    """The owner record of this process for trial ``trial_number``."""
    host, pid, started = _me()
    if pid != os.getpid():  # a forked child: not the cached process
        _me.cache_clear()
        host, pid, started = _me()
    return Owner(host, pid, started, trial_number, claimed)


def is_dead(owner: Owner) -> bool:
    """True only when ``owner`` ran on this host and is gone (or its pid now names another)."""
    if owner.host != host_name():
        return False
    started = process_start_time(owner.pid)
    if started is None:
        return True
    return owner.started not in (None, "unknown") and started not in ("unknown", owner.started)
