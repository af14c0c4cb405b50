"""The CLI starts at once: ``--help`` and the analytic commands import no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import child_env

HEAVY = ("torch", "torchvision", "optuna", "matplotlib", "ray", "sqlalchemy", "scipy")


def _heavy_imports(*args: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after ``archbench ARGS``."""
    code = (
        "import atexit, json, sys\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: print(json.dumps(sorted(m for m in heavy if m in sys.modules))))\n"
        "from archbench.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=child_env(COLUMNS="200"),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("search", "--help"),
        ("results", "--help"),
        ("spaces",),
        ("presets",),
        ("count", "resnet20_cifar"),
    ],
    ids=" ".join,
)
def test_help_and_analytic_commands_import_no_heavy_library(args: tuple[str, ...]) -> None:
    assert _heavy_imports(*args) == []
