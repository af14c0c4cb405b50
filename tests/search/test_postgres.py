"""PostgreSQL storage: URLs as users write them, and real searches on a real server.

The server is the session's (``postgres_url`` in tests/conftest.py); each test uses a study of
its own name, so tests share the server without sharing trials.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest

from archbench.store import POSTGRES_MISSING, normalize_storage_url, open_storage
from tests.conftest import child_env, invoke, run_cli
from tests.search.conftest import tiny_search_args, trained_count

DRIVERS = ("psycopg", "psycopg2")


def block_other_drivers(monkeypatch: pytest.MonkeyPatch, keep: str | None) -> None:
    """Makes every PostgreSQL driver but ``keep`` fail to import, as if not installed."""
    for module in DRIVERS:
        if module != keep:
            monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_plain_postgres_url_names_the_installed_driver(
    driver: str, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(driver)
    block_other_drivers(monkeypatch, keep=driver)
    url = normalize_storage_url(f"{scheme}://me:pw@db.example:5433/runs?sslmode=require")
    assert url == f"postgresql+{driver}://me:pw@db.example:5433/runs?sslmode=require"
    assert normalize_storage_url(url) == url, "normalizing twice changes nothing"


def test_psycopg_3_is_preferred_when_both_drivers_are_installed() -> None:
    pytest.importorskip("psycopg")
    pytest.importorskip("psycopg2")
    assert normalize_storage_url("postgresql://db/x") == "postgresql+psycopg://db/x"


def test_an_explicit_driver_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    block_other_drivers(monkeypatch, keep=None)  # no driver is even looked up
    url = "postgresql+pg8000://db/x"
    assert normalize_storage_url(url) == url


def test_without_a_driver_one_line_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], postgres_url: str
) -> None:
    block_other_drivers(monkeypatch, keep=None)
    with pytest.raises(ValueError) as raised:
        normalize_storage_url(postgres_url)
    assert str(raised.value) == POSTGRES_MISSING
    assert "archbench[postgres]" in POSTGRES_MISSING
    code, _, err = invoke(capsys, "results", "--storage", postgres_url)
    assert code == 2
    assert err.count("\n") == 1 and err.strip().endswith(POSTGRES_MISSING)


@pytest.mark.parametrize("driver", DRIVERS)
def test_each_driver_stores_and_reads_a_study(
    driver: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(driver)
    block_other_drivers(monkeypatch, keep=driver)
    storage = open_storage(postgres_url)
    study = optuna.create_study(study_name=f"driver-{driver}", storage=storage)
    study.enqueue_trial({"x": 1.0})
    study.optimize(lambda t: t.suggest_float("x", 0, 2) ** 2, n_trials=1)
    assert study.trials[0].value == 1.0
    assert storage.engine.dialect.driver == driver  # type: ignore[attr-defined]


def results_json(storage: str, study: str) -> dict[str, Any]:
    result = run_cli("results", "--storage", storage, "--study", study, "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def trained_in_storage(storage: str, study: str) -> int:
    try:
        loaded = optuna.load_study(study_name=study, storage=open_storage(storage))
    except KeyError:  # not created yet
        return 0
    return trained_count(loaded)


def trained(board: dict[str, Any]) -> int:
    return int(board["counts"]["trained"] + board["counts"]["pruned"])


def search_args(space: Path, storage: str, study: str, trials: int, *extra: str) -> list[str]:
    return [*tiny_search_args(space, storage, trials, *extra), "--study", study]


@pytest.mark.slow
def test_search_is_read_live_from_another_process_and_resumes(
    tiny_space: Path, postgres_url: str
) -> None:
    args = search_args(tiny_space, postgres_url, "live", 3, "--epochs", "2")
    search = subprocess.Popen(
        [sys.executable, "-c", "from archbench.cli import main; main()", *args],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    board: dict[str, Any] = {}
    paused = False
    try:
        deadline = time.monotonic() + 240
        while search.poll() is None and time.monotonic() < deadline:
            if trained_in_storage(postgres_url, "live"):
                # Pause the search so that `results` (a process start, slower than a tiny
                # trial on a fast machine) reads the study mid-search, not after it.
                search.send_signal(signal.SIGSTOP)
                paused = search.poll() is None
                try:
                    board = results_json(postgres_url, "live")
                finally:
                    search.send_signal(signal.SIGCONT)
                break
            time.sleep(0.1)
        _, stderr = search.communicate(timeout=240)
    finally:
        if search.poll() is None:
            search.kill()
    assert search.returncode == 0, stderr
    assert paused, "the search ended before its first trained trial was seen"
    assert 1 <= trained(board) <= 3, board["counts"]
    assert len([t for t in board["trials"] if t["status"] == "trained"]) == trained(board)
    assert trained(results_json(postgres_url, "live")) == 3

    again = run_cli(*search_args(tiny_space, postgres_url, "live", 4, "--epochs", "2"))
    assert again.returncode == 0, again.stderr
    board = results_json(postgres_url, "live")
    assert trained(board) == 4, "a rerun with --trials 4 trains one more, not four"
    assert board["storage"].startswith("postgresql+")
    for trial in board["trials"]:
        if trial["status"] == "trained":
            assert trial["n_params"] <= 30_000 and trial["config"]["family"] == "resnet"
