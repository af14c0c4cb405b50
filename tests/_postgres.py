"""A throwaway PostgreSQL server for the tests: ``initdb`` in a temp dir, loopback only.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
unprivileged ``postgres`` user that Debian's package creates, in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests._ports import free_port

SERVER_USER = "postgres"
DATABASE = "archbench"
ROLE = "archbench"
# Durability off: a test database is thrown away, and fsync would dominate its start and writes.
FAST_SETTINGS = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


class Unavailable(RuntimeError):
    """The server cannot be had on this machine (the message says why)."""


@dataclass(frozen=True)
class Server:
    url: str  # postgresql://ROLE@127.0.0.1:PORT/DATABASE, as a user would type it
    start_seconds: float


def bin_dir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's versioned folder."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if debian:
        return Path(debian[0]).parent
    raise Unavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql "
        "package (make test does when apt-get is available)"
    )


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise Unavailable(
            f"running as root and no {SERVER_USER!r} user to run PostgreSQL as"
        ) from None


def _run(
    args: list[str], user: pwd.struct_passwd | None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    identity = {}
    if user is not None:
        identity = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        env["HOME"] = user.pw_dir
    result = subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=timeout, cwd="/", **identity
    )
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {last[0]}")
    return result


@contextlib.contextmanager
def running_server() -> Iterator[Server]:
    """Starts a fresh server with one database; stops it and deletes its files at the end.

    Raises:
        Unavailable: when the binaries or an unprivileged user to run them are missing.
    """
    binaries = bin_dir()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="archbench-pg-"))
    data = root / "data"
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    started = time.perf_counter()
    _run(
        [str(binaries / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8",
         "--no-sync", "--no-instructions"],
        user,
    )  # fmt: skip
    port = 0
    try:
        for attempt in range(3):  # another process may take the free port before the server does
            port = free_port()
            options = f"-h 127.0.0.1 -p {port} -k {root} " + " ".join(FAST_SETTINGS)
            try:
                _run(
                    [str(binaries / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
                     "-l", str(root / "server.log"), "-o", options],
                    user, timeout=90,
                )  # fmt: skip
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        _run(
            [str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", ROLE, DATABASE],
            user,
        )
        yield Server(
            url=f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}",
            start_seconds=time.perf_counter() - started,
        )
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _run([str(binaries / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(data)], user)
        shutil.rmtree(root, ignore_errors=True)
