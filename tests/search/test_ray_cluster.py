"""Ray beyond one runtime: stale cluster files, heads that do not answer, and a two-node cluster.

The two-node test follows the README's cluster recipe (``ray start --head`` with a token,
``ray start --address`` with ``RAY_AUTH_TOKEN``) and stores the search in PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from archbench.store import is_trained, open_storage
from tests import _ray_cluster
from tests._ports import free_port
from tests.conftest import REPO, invoke
from tests.search.conftest import tiny_search_args, trained_count

pytest.importorskip("ray")


def archbench(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from archbench.cli import main; main()", *args],
        capture_output=True, text=True, cwd=cwd, timeout=timeout,
        env={**env, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
    )  # fmt: skip


@pytest.fixture
def ray_tmpdir() -> Iterator[Path]:
    """A ``RAY_TMPDIR`` of the test's own (short: Ray's socket paths have a length limit)."""
    folder = Path(tempfile.mkdtemp(prefix="abray", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.ray
@pytest.mark.slow
def test_a_stale_cluster_file_does_not_stop_a_local_search(
    tiny_space: Path, tmp_path: Path, ray_tmpdir: Path
) -> None:
    # What a killed `ray start` leaves behind; ray.init() without an address would join it and
    # wait for minutes on a port that refuses connections.
    (ray_tmpdir / "ray").mkdir()
    (ray_tmpdir / "ray" / "ray_current_cluster").write_text("127.0.0.1:1")
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmpdir)}
    env.pop("RAY_ADDRESS", None)
    storage = f"sqlite:///{tmp_path}/s.db"
    result = archbench(
        *tiny_search_args(tiny_space, storage, 1, "--backend", "ray"), env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    study = optuna.load_study(study_name="tiny", storage=open_storage(storage))
    assert trained_count(study) == 1


@pytest.mark.ray
@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("127.0.0.1:1", "no Ray head answers at 127.0.0.1:1 (connection refused)"),
        ("localhost", "is not HOST:PORT"),
    ],
)
def test_an_address_without_a_cluster_fails_at_once_in_one_line(
    address: str, says: str, tiny_space: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    args = tiny_search_args(tiny_space, storage, 1, "--backend", "ray", "--ray-address", address)
    code, _, err = invoke(capsys, *args)  # before the probe, ray.init waited for minutes here
    assert code == 2
    assert err.count("\n") == 1, err
    assert "ray_address:" in err and says in err


def node_of(trial: optuna.trial.FrozenTrial) -> str:
    """The Ray node a trial ran on, from the environment stamp of its profile."""
    return str(trial.user_attrs["profile"]["env"]["ray_node_id"])


def cluster_nodes(cluster: _ray_cluster.Cluster, cwd: Path) -> dict[str, dict[str, float]]:
    """Node id -> resources, asked of the cluster by a driver of its own."""
    script = (
        f"import json, ray; ray.init(address={cluster.address!r}, logging_level='ERROR'); "
        "print(json.dumps({n['NodeID']: n['Resources'] for n in ray.nodes() if n['Alive']}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, timeout=120,
        env={**cluster.env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": cluster.token},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.ray
@pytest.mark.slow
def test_two_node_cluster_runs_trials_on_both_nodes(
    tiny_space: Path, tmp_path: Path, postgres_url: str
) -> None:
    with _ray_cluster.two_node_cluster(free_port()) as cluster:
        common = [
            "--backend", "ray", "--ray-address", cluster.address, "--cpus-per-trial", "1",
            "--ray-storage", str(tmp_path / "ray"), "--study", "two-nodes", "--profile", "basic",
            "--scheduler", "fifo", "--epochs", "3", "--subset", "0.2",
        ]  # fmt: skip
        # Another machine without the token: one line saying what to set.
        tokenless = {**cluster.env, "HOME": str(tmp_path)}
        refused = archbench(
            *tiny_search_args(tiny_space, postgres_url, 1, *common),
            env=tokenless, cwd=tmp_path, timeout=120,
        )  # fmt: skip
        assert refused.returncode == 2
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "ray get-auth-token" in refused.stderr and "RAY_AUTH_TOKEN" in refused.stderr

        # The head machine: archbench finds the token in ~/.ray/auth_token by itself.
        args = tiny_search_args(tiny_space, postgres_url, 2, *common)
        # Tune starts a custom searcher's trials one at a time, and hands a pending trial the
        # idle worker process of a finished one: both trials start at once (and last a few
        # epochs), so the second node's worker process is up before the first trial ends.
        result = archbench(
            *args, env={**cluster.env, "TUNE_MAX_PENDING_TRIALS_PG": "2"}, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr[-3000:]
        nodes = cluster_nodes(cluster, tmp_path)

    assert len(nodes) == 2
    (worker,) = [node for node, res in nodes.items() if _ray_cluster.WORKER_RESOURCE in res]
    (head,) = set(nodes) - {worker}
    study = optuna.load_study(study_name="two-nodes", storage=open_storage(postgres_url))
    ran = [t for t in study.trials if is_trained(t)]
    assert len(ran) == 2
    used = {node_of(t) for t in ran}
    spans = [(t.datetime_start, t.datetime_complete) for t in ran]
    assert used == {head, worker}, f"trials ran on {used}, not on {head} and {worker}: {spans}"
    for trial in ran:  # the trial record names the node too, where the search core stores it
        assert trial.user_attrs.get("ray_node_id", node_of(trial)) == node_of(trial)
