"""A real fidelity run on `digits`: its JSON figures are re-derived with scipy, a rerun trains
nothing again, and bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import yaml
from scipy.stats import kendalltau, spearmanr

from archbench.store import FAILED, counts_by_status, open_storage
from tests.conftest import run_cli

CHEAP_SPACE = {
    "name": "cheap",
    "family": "resnet",
    "description": "one strided stage of 8-32 channels: seconds per digits epoch",
    "params": {
        "stem_channels": {"type": "choice", "choices": [4, 8]},
        "num_stages": {"type": "fixed", "value": 1},
        "stage1.depth": {"type": "int", "low": 1, "high": 2},
        "stage1.channels": {"type": "choice", "choices": [8, 16, 32]},
        "stage1.stride": {"type": "fixed", "value": 2},
    },
}  # fmt: skip


def fidelity_args(space: Path, storage: str, out: Path, *extra: str) -> list[str]:
    return [
        "fidelity", "--space", str(space), "--max-params", "50k", "--dataset", "digits",
        "--samples", "4", "--proxy-epochs", "1", "--proxy-subset", "0.3",
        "--reference-epochs", "2", "--reference-seeds", "2", "--scores", "synflow",
        "--storage", storage, "--study", "fid", "--out", str(out), "--json", *extra,
    ]  # fmt: skip


def trial_counts(storage: str) -> dict[str, int]:
    opened = open_storage(storage)
    return {
        summary.study_name: summary.n_trials
        for summary in optuna.get_all_study_summaries(opened, include_best_trial=False)
    }


@pytest.mark.slow
def test_a_run_reports_figures_scipy_recomputes_and_a_rerun_trains_nothing(
    tmp_path: Path,
) -> None:
    space = tmp_path / "cheap.yaml"
    space.write_text(yaml.safe_dump(CHEAP_SPACE))
    storage = f"sqlite:///{tmp_path / 'fid.db'}"
    result = run_cli(*fidelity_args(space, storage, tmp_path / "out"), timeout=600)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    assert set(doc) == {"configs", "correlations", "reference_noise"}
    configs = doc["configs"]
    assert len(configs) == 4
    reference = np.array([c["reference_accuracy"] for c in configs])
    for config in configs:
        assert len(config["reference_accuracies"]) == 2
        assert config["reference_accuracy"] == pytest.approx(
            np.mean(config["reference_accuracies"])
        )
    assert {"epochs=1", "synflow", "params", "flops"} <= set(doc["correlations"])
    for name, figures in doc["correlations"].items():
        cheap = np.array([c["proxies"][name] for c in configs])
        tau = kendalltau(cheap, reference).statistic
        rho = spearmanr(cheap, reference).statistic
        for key, expected in (("kendall_tau", tau), ("spearman", rho)):
            if np.isnan(expected):
                assert figures[key] is None or np.isnan(figures[key]), name
            else:
                assert figures[key] == pytest.approx(expected), (name, key)
        assert figures["ci95"] is None, "no bootstrap interval over 4 configs"
        assert 0.0 <= figures["top_k_recall"] <= 1.0
    seeds = np.array([c["reference_accuracies"] for c in configs])
    noise = kendalltau(seeds[:, 0], seeds[:, 1]).statistic
    if not np.isnan(noise):
        assert doc["reference_noise"]["kendall_tau"] == pytest.approx(noise)
    assert (tmp_path / "out" / "fidelity.md").is_file()
    assert list((tmp_path / "out").glob("*.png"))

    before = trial_counts(storage)
    again = run_cli(*fidelity_args(space, storage, tmp_path / "out"), timeout=600)
    assert again.returncode == 0, again.stderr
    assert trial_counts(storage) == before, "a rerun trained or enqueued something again"
    assert json.loads(again.stdout)["configs"] == configs


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--samples", "1"), "samples"),
        (("--proxy-epochs", "one"), "proxy"),
        (("--scores", "nonsense"), "nonsense"),
        (("--space", "no-such-space"), "no-such-space"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    args = fidelity_args(Path("resnet"), f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "o")
    flag, value = change
    args[args.index(flag) + 1] = value
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_failed_trainings_stay_missing_unless_retried(tmp_path: Path) -> None:
    """A training that fails is not replaced on a rerun; ``--retry-failed`` trains it again."""
    space = tmp_path / "cheap.yaml"
    space.write_text(yaml.safe_dump(CHEAP_SPACE))
    recipe = tmp_path / "explodes.yaml"  # every training ends with a non-finite loss
    recipe.write_text(yaml.safe_dump({"optimizer": "sgd", "lr": 1e30, "schedule": "none"}))
    storage = f"sqlite:///{tmp_path / 'fid.db'}"
    args = [
        "fidelity", "--space", str(space), "--max-params", "50k", "--dataset", "digits",
        "--samples", "2", "--proxy-epochs", "1", "--proxy-subset", "0.3",
        "--reference-epochs", "1", "--scores", "synflow", "--recipe", str(recipe),
        "--storage", storage, "--study", "fid", "--json",
    ]  # fmt: skip
    first = run_cli(*args, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr, "a failed training is recorded, not printed"
    assert all(c["reference_accuracy"] is None for c in json.loads(first.stdout)["configs"])
    assert failed_trainings(storage) == {"fid:epochs=1": 2, "fid:reference:seed=0": 2}
    trials_before = trial_counts(storage)

    assert run_cli(*args, timeout=600).returncode == 0
    assert trial_counts(storage) == trials_before, "a failed config is not trained again"
    assert run_cli(*args, "--retry-failed", timeout=600).returncode == 0
    assert failed_trainings(storage) == {"fid:epochs=1": 4, "fid:reference:seed=0": 4}


def failed_trainings(storage: str) -> dict[str, int]:
    opened = open_storage(storage)
    return {
        name: counts_by_status(optuna.load_study(study_name=name, storage=opened))[FAILED]
        for name in ("fid:epochs=1", "fid:reference:seed=0")
    }
