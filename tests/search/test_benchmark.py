"""Tabular searches (``--benchmark nb201``): looked-up trials are stored like trained ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest

from archbench.budget import Budget
from archbench.search import SearchSettings, run
from archbench.store import REJECTED, TRAINED, TrialRecord, counts_by_status, trial_status
from archbench.tables import nb201_accuracy
from tests.conftest import invoke


def _settings(storage: str, trials: int, **overrides: Any) -> SearchSettings:
    values: dict[str, Any] = {
        "space": "nb201",
        "budget": Budget(max_params=5_000_000),
        "n_trials": trials,
        "benchmark": "nb201",
        "dataset": "cifar100",
        "storage": storage,
        "study": "table",
        "seed": 0,
    }
    values.update(overrides)
    return SearchSettings(**values)


def _load(storage: str) -> optuna.Study:
    return optuna.load_study(study_name="table", storage=storage)


def test_a_lookup_is_stored_like_a_trained_trial(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    run(_settings(storage, 6))
    study = _load(storage)
    assert study.user_attrs["benchmark"] == "nb201" and study.user_attrs["epochs"] == 200
    records = [TrialRecord.read(t) for t in study.trials]
    assert [r.status for r in records] == [TRAINED] * 6
    for record, trial in zip(records, study.trials):
        assert record.config is not None and record.n_params is not None
        expected = nb201_accuracy(record.config["arch"], "cifar100") / 100
        assert record.val_accuracy == pytest.approx(expected) == trial.values[0]
        assert record.epochs_trained == 200
        assert record.benchmark == {"name": "nb201", "dataset": "cifar100"}
        assert record.profile is None and 0 < record.val_accuracy < 1


def test_exactly_n_and_a_rerun_resumes(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    run(_settings(storage, 4, sampler="random"))
    run(_settings(storage, 7, sampler="random"))
    assert counts_by_status(_load(storage))[TRAINED] == 7


def test_the_budget_restricts_the_table_and_two_objectives_work(tmp_path: Path) -> None:
    """Under 400k params many cells are over budget: they are rejected, never looked up."""
    storage = f"sqlite:///{tmp_path}/s.db"
    settings = _settings(
        storage, 6, budget=Budget(max_params=400_000), objectives=("accuracy", "params"),
        sampler="nsga2",
    )  # fmt: skip
    run(settings)
    trials = _load(storage).trials
    trained = [t for t in trials if trial_status(t) == TRAINED]
    assert len(trained) == 6
    assert all(t.user_attrs["n_params"] <= 400_000 for t in trained)
    assert all(t.values[1] == t.user_attrs["n_params"] for t in trained)
    rejected = [t for t in trials if trial_status(t) == REJECTED]
    assert all("val_accuracy" not in t.user_attrs for t in rejected)


def test_results_export_and_report_read_a_tabular_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    args = ["--storage", storage, "--study", "tab"]
    code, out, err = invoke(
        capsys, "search", "--space", "nb201", "--benchmark", "nb201", "--dataset", "cifar10",
        "--trials", "5", "--seed", "1", "--quiet", *args,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = invoke(capsys, "results", "--json", *args)
    assert code == 0, err
    entries = json.loads(out)["trials"]
    assert len(entries) == 5 and all(e["epochs_trained"] == 200 for e in entries)
    code, out, err = invoke(capsys, "export", "--top", "1", "--out", str(tmp_path / "x"), *args)
    assert code == 0, err
    exported = next((tmp_path / "x").glob("*.yaml")).read_text()
    assert "nb201" in exported and "arch" in exported
    code, out, err = invoke(capsys, "report", "--out", str(tmp_path / "r"), *args)
    assert code == 0, err
    assert (tmp_path / "r" / "report.md").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--space", "resnet", "--dataset", "cifar10"], "use --space nb201, not a resnet space"),
        (["--space", "nb201", "--dataset", "mnist5k"], "holds cifar10, cifar100, imagenet16-120"),
        (["--space", "nb201", "--dataset", "cifar10", "--objective", "accuracy,latency"],
         "measures no latency"),
    ],
)  # fmt: skip
def test_bad_benchmark_options_get_one_line(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke(
        capsys, "search", "--benchmark", "nb201", "--trials", "2", "--quiet",
        "--storage", f"sqlite:///{tmp_path}/s.db", *extra,
    )  # fmt: skip
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_ray_refuses_a_lookup_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    with pytest.raises(ValueError, match="needs no Ray; use --backend optuna"):
        run(_settings(f"sqlite:///{tmp_path}/s.db", 2, backend="ray"))
