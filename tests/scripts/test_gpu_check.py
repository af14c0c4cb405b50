"""``scripts/gpu_check.py``: its rehearsal on the CPU, a failing test and a broken wheel failing
their steps with ``summary.json`` written, the wheel set resolved and checked, the budget, and
whole sessions killed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, child_env

SCRIPT = REPO / "scripts" / "gpu_check.py"
sys.path.insert(0, str(SCRIPT.parent))
import gpu_check  # noqa: E402


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
    )


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_gpu_check_stops_at_once_without_cuda() -> None:
    result = subprocess.run(
        ["make", "-s", "gpu-check", f"BASE_PYTHON={sys.executable}", f"PYTHON={sys.executable}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert result.returncode == 2
    assert "gpu-check: no CUDA device on this machine" in result.stderr


@pytest.mark.slow
def test_the_rehearsal_runs_every_step_on_the_cpu(tmp_path: Path) -> None:
    result = _run("--rehearse", "--out", str(tmp_path), timeout=900)
    summary = _summary(tmp_path)
    assert result.returncode == 0, (result.stdout[-3000:], summary)
    assert summary["ok"] and summary["install"]["status"] == "ok"
    assert [name for name, step in summary["steps"].items() if step["status"] == "ok"] == [
        step.name for step in gpu_check.STEPS
    ]
    steps = summary["steps"]
    assert steps["env"]["result"]["wheels_on_path"] is True  # the installed wheel was importable
    assert steps["tests_quick"]["result"]["passed"] > 0
    assert steps["search"]["result"]["summary"]["trained"] == 1
    assert steps["memory"]["result"]["models"][0]["predicted_max_batch"] > 0
    assert {row["setting"] for row in steps["compile"]["result"]["rows"]} == {
        "bf16/channels_last/compile"
    }
    assert steps["compile"]["result"]["rows"][0]["trainer_compile_seconds"] > 0


@pytest.mark.parametrize(
    "planted",
    [
        "def test_fails():\n    assert False\n",
        # a collection error counts no failed test; pytest's exit code 2 still fails the step
        "import a_module_that_is_not_installed\n\ndef test_passes():\n    pass\n",
    ],
    ids=["failing-test", "collection-error"],
)
def test_a_failing_test_fails_the_tests_step(tmp_path: Path, planted: str) -> None:
    tests = tmp_path / "planted"
    tests.mkdir()
    (tests / "test_planted.py").write_text(planted)
    (tests / "test_fine.py").write_text("def test_fine():\n    pass\n")
    out = tmp_path / "out"
    result = _run("--rehearse", "--steps", "tests_quick", f"--tests={tests}", "--out", str(out))
    assert result.returncode == 1
    summary = _summary(out)
    step = summary["steps"]["tests_quick"]
    assert step["status"] == "failed" and not summary["ok"]
    assert step["result"]["exit_code"] in (1, 2) and step["result"]["ok"] is False
    assert any("test_planted.py" in failure for failure in step["result"]["failures"])


def test_a_broken_wheel_still_writes_summary_json_with_the_reason(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "brokenpkg-1.0-py3-none-any.whl").write_bytes(b"not a zip archive")
    (wheels / gpu_check.MANIFEST).write_text("brokenpkg==1.0\n")
    out = tmp_path / "out"
    result = _run("--rehearse", "--wheels", str(wheels), "--steps", "tests_cuda", "--out", str(out))
    assert result.returncode == 1
    summary = _summary(out)
    assert summary["install"]["status"] == "failed" and not summary["ok"]
    assert "pip install exited" in summary["install"]["reason"]
    step = summary["steps"]["tests_cuda"]  # needs the wheels: skipped with the install's reason
    assert step["status"] == "skipped" and "did not install" in step["reason"]
    assert summary["cut"] == [{"step": "tests_cuda", "reason": step["reason"]}]


def test_a_step_the_budget_cannot_hold_is_cut_and_named(tmp_path: Path) -> None:
    result = _run("--rehearse", "--steps", "env,memory", "--budget", "5", "--out", str(tmp_path))
    assert result.returncode == 1
    summary = _summary(tmp_path)
    assert [step["status"] for step in summary["steps"].values()] == ["cut", "cut"]
    assert summary["cut"][0]["step"] == "env"
    assert "budget spent" in summary["cut"][0]["reason"]


def test_the_wheel_list_is_the_installed_dev_tree() -> None:
    pins = gpu_check.resolve_pins()
    import hypothesis
    import optuna

    # hypothesis (tests/fuzz) and its sortedcontainers; mako's MarkupSafe, not jinja2's
    assert pins["hypothesis"] == hypothesis.__version__
    assert pins["optuna"] == optuna.__version__
    assert {"sortedcontainers", "pytest", "pluggy", "markupsafe", "mako"} <= set(pins)
    assert not set(pins) & (gpu_check.PROVIDED | gpu_check.NOT_FOR_TESTS | {"archbench"})
    printed = _run("--list-wheels").stdout.split()
    assert printed == [f"{name}=={version}" for name, version in pins.items()]


def test_select_wheels_checks_versions_and_tags_and_accepts_abi3(tmp_path: Path) -> None:
    for name in (
        "psycopg-3.2.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "SQLAlchemy-2.1.9-cp312-cp312-manylinux_2_17_x86_64.whl",
        "optuna-4.0.0-py3-none-any.whl",
        "mako-1.4.3-cp311-cp311-win_amd64.whl",
    ):
        (tmp_path / name).write_bytes(b"")
    pins = {"psycopg": "3.2.0", "sqlalchemy": "2.1.9", "optuna": "5.1.0", "mako": "1.4.3"}
    pins["tqdm"] = "4.70.1"
    chosen, problems = gpu_check.select_wheels(tmp_path, pins)
    assert [wheel.name.split("-")[0] for wheel in chosen] == ["psycopg", "SQLAlchemy"]
    assert problems == [
        "optuna==5.1.0: only 4.0.0",
        "mako==1.4.3: no CPython 3.12 x86_64 Linux wheel",
        "tqdm==4.70.1: no wheel",
    ]


def test_dry_run_proves_the_wheels_folder_complete_or_names_what_it_lacks(
    tmp_path: Path,
) -> None:
    pins = gpu_check.resolve_pins()
    for name, version in pins.items():
        (tmp_path / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"")
    (tmp_path / gpu_check.MANIFEST).write_text(
        "".join(f"{name}=={version}\n" for name, version in pins.items())
    )
    result = _run("--dry-run", "--wheels", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for number, step in enumerate(gpu_check.STEPS, 1):
        assert f"{number}. {step.name}: " in result.stdout
    assert f"is complete: {len(pins)} wheels" in result.stdout

    (tmp_path / f"hypothesis-{pins['hypothesis']}-py3-none-any.whl").unlink()
    result = _run("--dry-run", "--wheels", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"gpu-check: {tmp_path} lacks hypothesis=={pins['hypothesis']}: no wheel; "
        "run make gpu-wheels"
    ]


def test_a_step_session_is_killed_whole_children_included(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    spawner = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '120'], start_new_session=False)\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", spawner], start_new_session=True)
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    grandchild = int(pid_file.read_text())
    assert sorted(gpu_check.session_members(process.pid)) == sorted([process.pid, grandchild])
    assert gpu_check.kill_session(process.pid) == 2
    process.wait(10)
    assert gpu_check.session_members(process.pid) == []


def test_run_in_group_kills_the_command_and_its_children_on_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    spawner = (
        "import subprocess, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(subprocess.Popen(['sleep', '120']).pid))\n"
        "time.sleep(120)\n"
    )
    with open(tmp_path / "log", "w") as log:
        code, timed_out = gpu_check.run_in_group(
            [sys.executable, "-c", spawner], 15, log, cwd=tmp_path
        )
    assert (code, timed_out) == (None, True)
    child = int(pid_file.read_text())
    time.sleep(0.5)
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().split(") ")[1].startswith("Z")


def test_compile_blocker_names_a_missing_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-here")
    assert "no C compiler" in str(gpu_check.compile_blocker())
    monkeypatch.delenv("CC")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "no C compiler" in str(gpu_check.compile_blocker())


def test_the_steps_disable_pytest_plugin_autoload() -> None:
    env = gpu_check.step_environment(None)
    assert env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"
    assert env["PYTHONPATH"].split(":")[0] == str(REPO)


@pytest.mark.slow
def test_the_cifar_step_trains_and_searches_an_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", 24), ("test", 8)):
        for label in ("cat", "dog"):
            folder = tmp_path / "cifar" / split / label
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = torch.randint(0, 256, (32, 32, 3), generator=generator, dtype=torch.uint8)
                Image.fromarray(pixels.numpy()).save(folder / f"{index:04d}.png")
    out = tmp_path / "out"
    result = _run(
        "--rehearse", "--steps", "cifar", "--cifar", str(tmp_path / "cifar"), "--out", str(out),
        timeout=900,
    )  # fmt: skip
    summary = _summary(out)
    assert result.returncode == 0, summary
    cifar = summary["steps"]["cifar"]["result"]
    assert cifar["airbench94_like"]["epochs"] == 1
    assert 0 <= cifar["airbench94_like"]["test_accuracy"] <= 1
    assert cifar["anchor"]["accuracy"] == 0.94
    assert cifar["search"]["trained"] == gpu_check.REHEARSAL_SIZES.cifar_trials
    assert cifar["search"]["trials_per_minute"] > 0
