"""Set-up as a new user meets it: a fresh clone, the distribution's Python first on PATH.

Debian 12 and Ubuntu 24.04 mark their system Python as externally managed (PEP 668), so a plain
``pip install`` there stops at once. ``make`` must make and use the project's ``.venv`` instead.
The heavy part of ``make install`` (torch) is the same pip call in any environment, so the test
installs the project itself without its dependencies: what it checks is where pip installs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

SYSTEM_PYTHON = Path("/usr/bin/python3")


def _externally_managed() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    stdlib = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return (Path(stdlib) / "EXTERNALLY-MANAGED").exists()


@pytest.mark.slow
@pytest.mark.skipif(
    not _externally_managed() or shutil.which("make") is None or shutil.which("git") is None,
    reason="needs make, git and an externally managed /usr/bin/python3 (PEP 668)",
)
def test_make_uses_a_project_venv_on_an_externally_managed_system_python(tmp_path: Path) -> None:
    clone = tmp_path / "fresh-clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME")
    }
    env["PATH"] = os.pathsep.join(["/usr/bin", "/bin", env.get("PATH", "")])
    refused = subprocess.run(
        ["python3", "-m", "pip", "install", "--dry-run", "--no-deps", str(clone)],
        capture_output=True,
        text=True,
        env=env,
        cwd=clone,
    )
    assert refused.returncode != 0
    assert "externally-managed-environment" in refused.stderr

    made = subprocess.run(
        ["make", ".venv/bin/python"], capture_output=True, text=True, env=env, cwd=clone
    )
    assert made.returncode == 0, made.stdout + made.stderr
    venv_python = clone / ".venv" / "bin" / "python"
    installed = subprocess.run(
        [str(venv_python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "-e", str(clone)],
        capture_output=True, text=True, env=env, cwd=clone,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    where = subprocess.run(
        [str(venv_python), "-c", "import archbench, sys; print(archbench.__file__, sys.prefix)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    ).stdout.split()  # fmt: skip
    assert where == [str(clone / "archbench" / "__init__.py"), str(clone / ".venv")]
    planned = subprocess.run(
        ["make", "-n", "test"], capture_output=True, text=True, env=env, cwd=clone, check=True
    ).stdout
    assert ".venv/bin/python -m pytest -q" in planned
    assert "pip install" in planned and " python3 -m pip" not in planned
