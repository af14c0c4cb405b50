"""A two-node Ray cluster on this machine, started the way the README's cluster recipe says.

Each node is a ``ray start --block`` process of ours, so stopping it (SIGTERM) stops exactly that
node's Ray processes; ``ray stop`` would stop every Ray runtime on the machine. ``RAY_TMPDIR``
keeps the cluster's files, ``ray_current_cluster`` included, out of ``/tmp/ray``, and a ``HOME``
of its own keeps the cluster's token out of the user's ``~/.ray``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WORKER_RESOURCE = "worker_node"  # carried by the worker node only, so it can be told apart
START_SECONDS = 120


@dataclass(frozen=True)
class Cluster:
    address: str  # HEAD_IP:PORT, as `ray start --head` printed it
    token: str
    env: dict[str, str]  # the head machine's environment: HOME with ~/.ray/auth_token, RAY_TMPDIR


def _ray_cli() -> list[str]:
    """The ``ray`` command of this interpreter: its nodes then start their workers with it, so
    they import the archbench under test (a ``ray`` found on PATH may belong to another Python,
    whose archbench is another checkout)."""
    return [sys.executable, "-m", "ray.scripts.scripts"]


def _wait_started(node: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if "Ray runtime started" in log.read_text(errors="replace"):
            return
        if node.poll() is not None:
            break
        time.sleep(0.25)
    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
    raise RuntimeError(f"a Ray node did not start: {' | '.join(tail)}")


def _written(path: Path, node: subprocess.Popen[bytes], log: Path) -> str:
    """The text of ``path`` once the node has written it: the head may print that it started
    a moment before it writes its address."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and node.poll() is None:
        if path.exists() and (text := path.read_text().strip()):
            return text
        time.sleep(0.25)
    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
    raise RuntimeError(f"the Ray head wrote no {path.name}: {' | '.join(tail)}")


def _start_node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        node = subprocess.Popen(
            [*_ray_cli(), "start", *args, "--block"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    _wait_started(node, log)
    return node


def _stop(node: subprocess.Popen[bytes]) -> None:
    node.terminate()
    try:
        node.wait(timeout=60)
    except subprocess.TimeoutExpired:
        node.kill()
        node.wait()


@contextlib.contextmanager
def two_node_cluster(port: int) -> Iterator[Cluster]:
    """A head (1 CPU) and a worker node (1 CPU, ``WORKER_RESOURCE``), joined with the token."""
    root = Path(tempfile.mkdtemp(prefix="abray", dir="/tmp"))  # Ray's socket paths must be short
    head_home, worker_home = root / "head", root / "worker"
    head_home.mkdir()
    worker_home.mkdir()
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RAY_AUTH", "RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"))
    }
    base["RAY_TMPDIR"] = str(root)
    # README step 2, on the head: token auth on, a token made once, the head started.
    head_env = {**base, "HOME": str(head_home), "RAY_AUTH_MODE": "token"}
    token = subprocess.run(
        [*_ray_cli(), "get-auth-token", "--generate"],
        env=head_env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout.strip()  # fmt: skip
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        nodes.append(
            _start_node(
                [
                    "--head",
                    f"--port={port}",
                    "--num-cpus=1",
                    "--include-dashboard=false",
                    "--disable-usage-stats",
                ],
                head_env,
                root / "head.log",
            )  # fmt: skip
        )
        address = _written(root / "ray" / "ray_current_cluster", nodes[0], root / "head.log")
        # README step 3, on the worker machine: the head's token in the environment, then join.
        worker_env = {
            **base, "HOME": str(worker_home), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token,
        }  # fmt: skip
        nodes.append(
            _start_node(
                [
                    f"--address={address}",
                    "--num-cpus=1",
                    f"--resources={json.dumps({WORKER_RESOURCE: 1})}",
                    "--disable-usage-stats",
                ],
                worker_env,
                root / "worker.log",
            )  # fmt: skip
        )
        yield Cluster(address=address, token=token, env={**base, "HOME": str(head_home)})
    finally:
        for node in reversed(nodes):
            _stop(node)
        shutil.rmtree(root, ignore_errors=True)
