"""A tiny space and settings that make real searches take seconds on a CPU."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from archbench.budget import Budget
from archbench.search import SearchSettings
from archbench.store import is_trained

TINY_SPACE = {
    "name": "tiny",
    "family": "resnet",
    "description": "small ResNets for tests: 1-2 stages, 8-64 channels",
    "params": {
        "stem_channels": {"type": "choice", "choices": [8, 16]},
        "num_stages": {"type": "int", "low": 1, "high": 2},
        "stage1.depth": {"type": "int", "low": 1, "high": 2},
        "stage1.channels": {"type": "choice", "choices": [8, 16, 32, 64]},
        "stage2.depth": {
            "type": "int", "low": 1, "high": 2, "active_if": {"param": "num_stages", "values": [2]},
        },
        "stage2.channels": {
            "type": "choice", "choices": [16, 32, 64],
            "active_if": {"param": "num_stages", "values": [2]},
        },
    },
}  # fmt: skip

# Under 30k params about half of the tiny space is over budget: trials get rejected in between.
TINY_BUDGET = 30_000


@pytest.fixture
def tiny_space(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_SPACE))
    return path


def tiny_search_args(space: Path, storage: str, trials: int, *extra: str) -> list[str]:
    return [
        "search", "--space", str(space), "--max-params", "30k", "--trials", str(trials),
        "--epochs", "1", "--subset", "0.05", "--profile", "none", "--storage", storage,
        "--study", "tiny", "--seed", "0", "--quiet", *extra,
    ]  # fmt: skip


def tiny_settings(space: Path, storage: str, trials: int, **overrides: Any) -> SearchSettings:
    """Settings of a real search that takes seconds: 1 epoch on 5% of mnist5k, no profile."""
    values: dict[str, Any] = {
        "space": str(space),
        "budget": Budget(max_params=TINY_BUDGET),
        "n_trials": trials,
        "epochs": 1,
        "subset": 0.05,
        "profile": "none",
        "storage": storage,
        "study": "tiny",
        "seed": 0,
    }
    values.update(overrides)
    return SearchSettings(**values)


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """One local Ray runtime (2 CPUs) for a module; drivers in subprocesses join it by address."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def trained_count(study: optuna.Study) -> int:
    """Trials that trained, to completion or until the pruner stopped them: the ``--trials``
    count."""
    return sum(is_trained(t) for t in study.get_trials(deepcopy=False))
