"""A latency cap on a device we lack: the budget rejects on the cost model's prediction."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from archbench.budget import Budget, decide
from archbench.hwprofile import get_device, predict_latency
from archbench.models import get_preset, resolve_config
from archbench.search import SearchSettings, run
from archbench.store import REJECTED, TRAINED, TrialRecord

SMALL, LARGE = get_preset("simple_cnn"), get_preset("resnet18_cifar")


def _predicted(cfg: object, device: str = "rtx4090", batch: int = 1) -> float:
    return predict_latency([cfg], get_device(device), batch_size=batch)[0].ms  # type: ignore[list-item]


def test_a_config_over_the_predicted_cap_is_rejected_with_its_reason() -> None:
    cap = (_predicted(SMALL) + _predicted(LARGE)) / 2
    budget = Budget(max_params=50_000_000, latency_on="rtx4090", max_predicted_latency_ms=cap)
    small, large = decide(SMALL, budget), decide(LARGE, budget)
    assert not small.rejected and small.predicted_latency_ms == pytest.approx(_predicted(SMALL))
    assert small.constraints["max_latency_ms"] == pytest.approx(_predicted(SMALL) - cap)
    assert large.rejected and large.constraints["max_latency_ms"] > 0
    assert large.reason is not None
    assert large.reason.startswith(f"predicted latency {_predicted(LARGE):.2f} ms on rtx4090")
    assert large.reason.endswith(f"at batch 1 over the cap of {cap:g} ms")


def test_the_prediction_uses_the_latency_batch_and_needs_no_cap() -> None:
    decision = decide(SMALL, Budget(max_params=10**8, latency_on="l4", latency_batch=64))
    assert not decision.rejected and "max_latency_ms" not in decision.constraints
    assert decision.predicted_latency_ms == pytest.approx(_predicted(SMALL, "l4", 64))
    assert decide(SMALL, Budget(max_params=10**8)).predicted_latency_ms is None


def test_bad_latency_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="needs --latency-on"):
        Budget(max_params=10**6, max_predicted_latency_ms=5.0)
    with pytest.raises(ValueError, match="'gtx480' is unknown; choose one of cpu"):
        Budget(max_params=10**6, latency_on="gtx480", max_predicted_latency_ms=5.0)
    with pytest.raises(ValueError, match="latency_batch"):
        Budget(max_params=10**6, latency_on="l4", latency_batch=0)


def test_a_tabular_search_rejects_nets_predicted_too_slow(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    budget = Budget(max_params=5_000_000, latency_on="titan-rtx", max_predicted_latency_ms=4.5)
    settings = SearchSettings(
        space="nb201",
        budget=budget,
        n_trials=6,
        benchmark="nb201",
        dataset="cifar10",
        storage=storage,
        study="fast",
        seed=0,
    )
    run(settings)
    trials = optuna.load_study(study_name="fast", storage=storage).trials
    records = [TrialRecord.read(trial) for trial in trials]
    rejected = [r for r in records if r.status == REJECTED]
    assert sum(r.status == TRAINED for r in records) == 6 and rejected
    for record, trial in zip(records, trials):
        assert record.config is not None
        latency = _predicted(resolve_config(record.config["arch"]), "titan-rtx")
        assert trial.constraints["max_latency_ms"] == pytest.approx(latency - 4.5)
        assert (record.status == REJECTED) == (latency > 4.5)
    assert all("predicted latency" in (r.reason or "") for r in rejected)
