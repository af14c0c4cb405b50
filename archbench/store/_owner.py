"""The owner of a trial: the process that runs it, and whether that process is gone.

A process that died is told apart on this host by its pid and its start time, so that a reused
pid does not pass for the owner. Owners on other hosts are never taken for dead here; the
storage's heartbeat is left to find them.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Owner:
    """The process that runs a trial, from the trial's first write; ``started`` tells a reused
    pid apart, ``claimed`` whether the trial holds one of the ``--trials`` slots."""

    host: str
    pid: int
    started: str | None
    # The trial it was written for (None: with the trial, before its number was known); an owner
    # copied onto another trial owns nothing.
    trial: int | None
    claimed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls, value: Any, number: int) -> Owner | None:
        """The owner in ``value`` (an owner attr) if it was written for trial ``number``."""
        if not isinstance(value, Mapping) or value.get("trial", -1) not in (None, number):
            return None
        started, claimed = value.get("started"), value.get("claimed") is True
        return cls(str(value["host"]), int(value["pid"]), started, number, claimed)

    @classmethod
    def this_process(cls, trial: int | None, *, claimed: bool = False) -> Owner:
        """This process, as the owner of trial ``trial``."""
        if _me()[1] != os.getpid():  # a forked child: not the cached process
            _me.cache_clear()
        host, pid, started = _me()
        return cls(host, pid, started, trial, claimed)

    def is_dead(self) -> bool:
        """True only when it ran on this host and is gone (or its pid now names another)."""
        if self.host != host_name():
            return False
        started = process_start_time(self.pid)
        if started is None:
            return True
        return self.started not in (None, "unknown") and started not in ("unknown", self.started)


def host_name() -> str:
    return socket.gethostname()


def process_start_time(pid: int) -> str | None:
    """When ``pid`` started, in the OS's own units; None when it is gone or cannot be told.

    Linux: field 22 of ``/proc/<pid>/stat`` (clock ticks since boot); a zombie counts as gone.
    Elsewhere psutil's ``create_time`` where psutil is installed.
    """
    if os.path.exists("/proc/self/stat"):
        try:
            with open(f"/proc/{pid}/stat") as file:
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


@functools.lru_cache(maxsize=1)
def _me() -> tuple[str, int, str | None]:
    pid = os.getpid()
    return host_name(), pid, process_start_time(pid)
