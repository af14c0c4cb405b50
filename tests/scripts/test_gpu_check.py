"""``make gpu-check`` without a GPU, and ``scripts/gpu_check.py --dry-run``'s wheel check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, child_env

SCRIPT = REPO / "scripts" / "gpu_check.py"
sys.path.insert(0, str(SCRIPT.parent))
import gpu_check  # noqa: E402


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = child_env()
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120
    )


def _wheel_names(versions: dict[str, str]) -> list[str]:
    return [f"{name}-{versions.get(name, '1.0')}-py3-none-any.whl" for name in gpu_check.WHEELS]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_gpu_check_stops_at_once_without_cuda() -> None:
    result = subprocess.run(
        ["make", "-s", "gpu-check", f"PYTHON={sys.executable}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert result.returncode == 2
    assert "gpu-check: no CUDA device on this machine" in result.stderr
    assert not (REPO / "gpu-check" / "summary.json").exists() or result.stdout == ""


def test_dry_run_lists_the_steps_and_accepts_a_complete_wheels_folder(tmp_path: Path) -> None:
    for name in _wheel_names({}):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sqlalchemy-1.0-py3-none-any.whl").unlink()
    (tmp_path / "SQLAlchemy-2.1.9-cp312-cp312-manylinux_2_17_x86_64.whl").write_bytes(b"")
    result = _run("--dry-run", "--wheels", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for number, step in enumerate(gpu_check.STEPS, 1):
        assert f"{number}. {step.name}: " in result.stdout
    total = gpu_check.INSTALL_LIMIT_S + sum(step.limit_s for step in gpu_check.STEPS)
    assert total <= 480 and f"total limit {total} s" in result.stdout
    assert "is complete" in result.stdout


def test_dry_run_names_what_the_wheels_folder_lacks(tmp_path: Path) -> None:
    for name in _wheel_names({}):
        if name.startswith(("optuna", "mako")):
            continue
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "optuna-5.0.0-cp311-cp311-win_amd64.whl").write_bytes(b"")  # wrong platform
    result = _run("--dry-run", "--wheels", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"gpu-check: {tmp_path} lacks optuna, mako; run make gpu-wheels"
    ]


def test_the_wheel_list_pins_what_is_installed_here() -> None:
    result = _run("--list-wheels")
    pins = result.stdout.split()
    assert [pin.split("==")[0] for pin in pins] == list(gpu_check.WHEELS)
    import optuna

    assert f"optuna=={optuna.__version__}" in pins
    assert not any(pin.startswith(("torch", "numpy")) for pin in pins)  # never reinstalled
