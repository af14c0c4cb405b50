"""The backend contract: the same invariants, checked on real searches with Optuna and with Ray.

Tiny settings (a tiny space, 1 epoch on 5% of mnist5k, no profile) keep each search to seconds.
On Ray, 4 trials run at once (0.5 CPU each on the 2-CPU runtime).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from archbench.search import RaySettings, SearchAborted, SearchSettings, run
from archbench.store import FAILED, PRUNED, REJECTED, TRAINED, open_storage, trial_status
from archbench.train import get_recipe
from tests.search.conftest import TINY_BUDGET, tiny_settings

BACKENDS = ["optuna", pytest.param("ray", marks=[pytest.mark.ray, pytest.mark.slow])]
# The trial record (docs/CONTRACTS.md): attrs every backend stores, and those only one stores.
TRAINED_ATTRS = {
    "owner",
    "status",
    "config",
    "n_params",
    "metrics",
    "val_accuracy",
    "epochs_trained",
    "host",
}
REJECTED_ATTRS = {"owner", "status", "reason", "config", "n_params"}
BACKEND_ATTRS = {"optuna": set(), "ray": {"ray_trial_id", "ray_node_id"}}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_address")
    return str(request.param)


def settings_for(
    backend: str, space: Path, storage: str, trials: int, **overrides: Any
) -> SearchSettings:
    if backend == "ray":
        overrides = {"backend": "ray", "ray": RaySettings(cpus_per_trial=0.5), **overrides}
    return tiny_settings(space, storage, trials, **overrides)


def load(storage: str) -> optuna.Study:
    return optuna.load_study(study_name="tiny", storage=open_storage(storage))


def statuses(study: optuna.Study) -> list[str]:
    return [trial_status(t) for t in study.trials]


def test_exactly_n_within_budget_same_attrs_and_resume(
    backend: str, tiny_space: Path, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    summary = run(settings_for(backend, tiny_space, storage, 4))
    trained = statuses(load(storage))
    assert trained.count(TRAINED) + trained.count(PRUNED) == 4 == summary.trained

    run(settings_for(backend, tiny_space, storage, 5))  # resume: one more in total
    study = load(storage)
    assert statuses(study).count(TRAINED) + statuses(study).count(PRUNED) == 5
    assert REJECTED in statuses(study), "the tiny budget should reject some proposals"
    for trial in study.trials:
        attrs = set(trial.user_attrs) - BACKEND_ATTRS[backend]
        status = trial_status(trial)
        if status in (TRAINED, PRUNED):
            assert trial.user_attrs["n_params"] <= TINY_BUDGET
            assert attrs - {"reason"} == TRAINED_ATTRS
            assert set(trial.user_attrs) & BACKEND_ATTRS[backend] == BACKEND_ATTRS[backend]
        if status == PRUNED:
            assert trial.user_attrs["reason"]
        if status == REJECTED:  # never built: no metrics, no host
            assert trial.user_attrs["n_params"] > TINY_BUDGET
            assert "over the budget" in trial.user_attrs["reason"]
            assert attrs == REJECTED_ATTRS


def test_failures_are_recorded_with_reasons_and_bounded(
    backend: str, tiny_space: Path, tmp_path: Path
) -> None:
    """A recipe that diverges fails every trial for real; the stop policy ends the search."""
    recipe = {**get_recipe("proxy").to_dict(), "lr": 1e30, "schedule": "none", "batch_size": 16}
    path = tmp_path / "diverging.yaml"
    path.write_text(yaml.safe_dump(recipe))
    storage = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(SearchAborted, match="3 trials failed .last: non-finite loss"):
        run(settings_for(backend, tiny_space, storage, 1, recipe=str(path)))
    study = load(storage)
    failed = [t for t in study.trials if trial_status(t) == FAILED]
    assert len(failed) >= 3
    assert all(t.user_attrs["reason"].startswith("non-finite loss") for t in failed)
    assert TRAINED not in statuses(study)
