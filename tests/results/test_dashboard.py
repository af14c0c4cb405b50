"""optuna-dashboard as a real client of a finished study: its HTTP API shows archbench's attrs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests._ports import free_port
from tests.results.conftest import STUDY, TRAINED_TRIALS, TinyStudy

START_SECONDS = 120


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def dashboard(tiny_study: TinyStudy) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of ``optuna-dashboard`` serving the study's storage.

    The one installed beside this interpreter first: `make test` runs the virtual environment's
    Python without activating it, so its scripts folder need not be on PATH.
    """
    command = shutil.which("optuna-dashboard", path=sysconfig.get_path("scripts")) or shutil.which(
        "optuna-dashboard"
    )
    if command is None:
        pytest.fail("optuna-dashboard is not installed; it is in the dev extra (make test)")
    port = free_port()
    server = subprocess.Popen(
        [command, tiny_study.storage, "--host", "127.0.0.1", "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                get_json(f"{base}/api/meta")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    stderr = server.stderr.read().decode() if server.stderr else ""
                    pytest.fail(f"optuna-dashboard did not start: {stderr[-1000:]}")
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def attrs(serialized: list[dict[str, str]]) -> dict[str, str]:
    return {item["key"]: item["value"] for item in serialized}


def test_the_dashboard_serves_the_archbench_trial_attrs(dashboard: str) -> None:
    studies = get_json(f"{dashboard}/api/studies")["study_summaries"]
    (study,) = [s for s in studies if s["study_name"] == STUDY]
    assert "max_params" in attrs(study["user_attrs"])
    detail = get_json(f"{dashboard}/api/studies/{study['study_id']}")
    trials = [attrs(trial["user_attrs"]) for trial in detail["trials"]]
    trained = [t for t in trials if t.get("status") == "trained"]
    assert len(trained) == TRAINED_TRIALS
    for trial in trained:
        assert int(trial["n_params"]) > 0
        assert json.loads(trial["config"])["family"] == "resnet"
    assert {t["status"] for t in trials} >= {"trained", "rejected"}
