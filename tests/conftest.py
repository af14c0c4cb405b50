"""Shared fixtures: a subprocess runner for the real ``archbench`` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import _postgres

REPO = Path(__file__).resolve().parents[1]

# Ray runtimes started by the tests (and the drivers they spawn) serve this machine only: with
# cluster mode off Ray binds to loopback, never to a network interface.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child interpreter that runs this checkout.

    This checkout first; what PYTHONPATH already held (the GPU check's wheels) after it.
    """
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Runs ``archbench ARGS`` in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-c", "from archbench.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(COLUMNS="200"),
        timeout=timeout,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Runs ``archbench ARGS`` in this process (fast); returns exit code, stdout, stderr."""
    from archbench.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://archbench@127.0.0.1:PORT/archbench`` on a real server started for the session.

    Skips only where the server binaries (or a user to run them as) cannot be had.
    """
    try:
        with _postgres.running_server() as server:
            yield server.url
    except _postgres.Unavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``make test``'s two workers (``--dist loadgroup``), the Ray tests run on one of
    them, one after another: two Ray runtimes at once would halve each one's CPUs and time out."""
    for item in items:
        uses_ray = "ray_address" in getattr(item, "fixturenames", ())
        if uses_ray or item.get_closest_marker("ray") is not None:
            item.add_marker(pytest.mark.xdist_group("ray"))
