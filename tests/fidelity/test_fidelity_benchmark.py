"""Fidelity against NAS-Bench-201's table: the table is the reference, and nothing trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archbench.budget import Budget
from archbench.fidelity import FidelitySettings, document, run_fidelity
from archbench.tables import nb201_accuracy
from tests.conftest import invoke


def test_the_table_is_the_reference(tmp_path: Path) -> None:
    settings = FidelitySettings(
        space="nb201", budget=Budget(max_params=5_000_000), samples=8, proxy_epochs=(),
        reference_epochs=200, dataset="cifar100", scores=("params", "flops"),
        storage=f"sqlite:///{tmp_path}/f.db", benchmark="nb201",
    )  # fmt: skip
    run = run_fidelity(settings)
    assert run.references == ("reference:nb201",) and list(run.accuracies) == ["reference:nb201"]
    looked_up = run.accuracies["reference:nb201"]
    for config, accuracy in zip(run.configs, looked_up):
        assert accuracy == pytest.approx(nb201_accuracy(config.arch, "cifar100") / 100)  # type: ignore[attr-defined]
    doc = document(run)
    assert set(doc["correlations"]) == {"params", "flops"}
    assert doc["correlations"]["params"]["n"] == 8
    assert run_fidelity(settings).accuracies == run.accuracies  # a rerun looks nothing up twice


def test_the_cli_reports_rankings_against_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "fidelity", "--space", "nb201", "--max-params", "5M", "--benchmark", "nb201",
        "--dataset", "cifar10", "--samples", "6", "--scores", "params",
        "--storage", f"sqlite:///{tmp_path}/f.db",
    ]  # fmt: skip
    code, out, err = invoke(capsys, *args, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["configs"]) == 6 and doc["correlations"]["params"] is not None
    assert all(0 < c["reference_accuracy"] < 1 for c in doc["configs"])
    code, out, err = invoke(capsys, *args, "--proxy-epochs", "1")
    assert code == 2 and "trains nothing; drop --proxy-epochs" in err
    assert len(err.strip().splitlines()) == 1
