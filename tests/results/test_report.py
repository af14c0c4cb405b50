"""The report on a real study, and the plots that study cannot exercise on synthetic records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image
import optuna
import pytest

from archbench.results import NothingToPlot, TrialRow, pareto_front, write_report
from archbench.results._plots import (
    plot_accuracy_vs,
    plot_batch_sweep,
    plot_param_importances,
)
from tests.conftest import run_cli
from tests.results.conftest import TinyStudy

ALWAYS_DRAWN = ("accuracy_vs_params", "optimization_history", "params_by_status", "epoch_curves")


def assert_loadable_png(path: Path) -> None:
    assert path.stat().st_size > 1000
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0, "a blank image"


def test_report_cli_writes_loadable_pngs_linked_from_the_markdown(
    tiny_study: TinyStudy, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = run_cli("report", "--storage", tiny_study.storage, "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    drawn = {f["name"]: Path(f["path"]) for f in document["figures"] if f["path"]}
    skipped = {f["name"]: f["note"] for f in document["figures"] if not f["path"]}
    assert set(ALWAYS_DRAWN) <= set(drawn)
    assert "accuracy_vs_latency" in skipped, "the study was searched with --profile none"
    assert sorted(out.glob("*.png")) == sorted(drawn.values())
    for path in drawn.values():
        assert_loadable_png(path)
    markdown = (out / "report.md").read_text()
    assert sorted(re.findall(r"\]\(([^)]+\.png)\)", markdown)) == sorted(
        p.name for p in drawn.values()
    )
    for note in skipped.values():
        assert note in markdown
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(drawn)
    assert ".png" not in page, "the HTML must not depend on the PNG files"
    assert f"archbench report: {tiny_study.name}</h1>" in page


def test_report_of_a_study_with_nothing_trained_has_notes_not_crashes(tmp_path: Path) -> None:
    study = optuna.create_study(study_name="empty", direction="maximize")
    study.set_user_attr("max_params", 1000)
    rejected = {"status": "rejected", "n_params": 5000, "reason": "5k params over the budget"}
    study.add_trial(optuna.create_trial(state=optuna.trial.TrialState.PRUNED, user_attrs=rejected))
    report = write_report(study, tmp_path, storage_url="memory")
    drawn = [f.name for f in report.figures if f.path]
    assert drawn == ["params_by_status"]
    assert all(f.note for f in report.figures if not f.path)
    assert_loadable_png(tmp_path / "params_by_status.png")
    assert "rejected" in report.markdown.read_text()


def importance_study(trained: int) -> optuna.Study:
    """A study whose accuracy depends on one param only, with one rejected trial in it."""
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    for _ in range(trained):
        trial = study.ask()
        width = trial.suggest_int("width", 8, 64)
        trial.suggest_int("noise", 0, 10)
        trial.set_user_attr("status", "trained")
        study.tell(trial, width / 64)
    trial = study.ask()
    trial.suggest_int("width", 8, 64)
    trial.suggest_int("noise", 0, 10)
    trial.set_user_attr("status", "rejected")
    study.tell(trial, 0.0)  # a rejection stored as complete, as with GP and NSGA-II
    return study


def test_param_importances_plot_and_too_few_trials(tmp_path: Path) -> None:
    path = plot_param_importances(importance_study(20), tmp_path / "importances.png")
    assert_loadable_png(path)
    with pytest.raises(NothingToPlot, match="at least 10 trained trials .* has 9"):
        plot_param_importances(importance_study(9), tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_batch_sweep_and_latency_plots_read_stored_profiles(tmp_path: Path) -> None:
    points = [
        {"batch_size": b, "train_images_per_second": 100.0 * b**0.5,
         "predicted_train_memory_bytes": b * 2**20, "peak_train_memory_bytes": None}
        for b in (16, 32, 64)
    ]  # fmt: skip
    profiled = TrialRow(
        number=3, status="trained", val_accuracy=0.9, n_params=1000, latency_ms=2.0,
        profile={"sweep": {"points": points, "env": {}}},
    )  # fmt: skip
    assert_loadable_png(plot_batch_sweep([profiled], tmp_path / "sweep.png"))
    assert_loadable_png(
        plot_accuracy_vs(
            [profiled], tmp_path / "latency.png", field="latency_ms", label="ms",
            larger_is_better=False,
        )
    )  # fmt: skip
    bare = TrialRow(number=4, status="trained", val_accuracy=0.8, n_params=500)
    with pytest.raises(NothingToPlot, match="sweep"):
        plot_batch_sweep([bare], tmp_path / "none.png")
    with pytest.raises(NothingToPlot, match="ms"):
        plot_accuracy_vs([bare], tmp_path / "none.png", field="latency_ms", label="ms",
                         larger_is_better=False)  # fmt: skip


@pytest.mark.parametrize(
    ("larger_is_better", "expected"),
    [(False, [0, 2, 3]), (True, [3])],
)
def test_pareto_front(larger_is_better: bool, expected: list[int]) -> None:
    # (cost, accuracy): 1 is beaten by 0 when smaller costs win (same accuracy, more cost).
    points = [(1.0, 0.5), (2.0, 0.5), (3.0, 0.7), (4.0, 0.9)]
    assert pareto_front(points, x_larger_is_better=larger_is_better) == expected


def budget_study() -> optuna.Study:
    """Every budget set; one trained trial of one epoch, rejections by params and by FLOPs."""
    study = optuna.create_study(study_name="budgets", direction="maximize")
    attrs = {"max_params": 1_000_000, "max_flops": 60_000_000, "max_latency_ms": 2.5}
    for key, value in (attrs | {"min_batch": 32, "memory_bytes": 8 * 2**30}).items():
        study.set_user_attr(key, value)
    trained = {"status": "trained", "n_params": 900_000, "val_accuracy": 0.9,
               "metrics": [{"epoch": 1, "val_accuracy": 0.9}]}  # fmt: skip
    study.add_trial(optuna.create_trial(value=0.9, user_attrs=trained))
    for n_params, reason in (
        (1_070_000, "1.07M params over the budget of 1M"),
        (800_000, "62.1M FLOPs over the cap of 60M"),
    ):
        rejected = {"status": "rejected", "n_params": n_params, "reason": reason}
        study.add_trial(
            optuna.create_trial(state=optuna.trial.TrialState.PRUNED, user_attrs=rejected)
        )
    return study


def test_rejections_are_marked_by_reason_and_every_budget_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    from archbench.results import leaderboard

    drawn: dict[str, Figure] = {}
    original = Figure.savefig

    def keep(figure: Figure, path: Path, *args: object, **kwargs: object) -> None:
        drawn[Path(path).stem] = figure
        original(figure, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    study = budget_study()
    report = write_report(study, tmp_path, storage_url="memory")
    markdown = report.markdown.read_text()
    assert (
        "**budgets**: params <= 1M; forward FLOPs <= 60M; batch-1 latency <= 2.5 ms; "
        "predicted max batch >= 32 on 8.0 GiB"
    ) in markdown
    labels = drawn["accuracy_vs_params"].axes[0].get_legend_handles_labels()[1]
    assert "rejected: params (1, never trained)" in labels
    assert "rejected: FLOPs (1, never trained)" in labels
    labels = drawn["params_by_status"].axes[0].get_legend_handles_labels()[1]
    assert labels[:3] == ["trained (1)", "rejected: params (1)", "rejected: FLOPs (1)"]
    curves = drawn["epoch_curves"].axes[0]
    assert curves.get_xlim() == (0.5, 1.5)
    assert [tick for tick in curves.get_xticks() if 0.5 <= tick <= 1.5] == [1.0]
    for name in ("accuracy_vs_params", "params_by_status", "epoch_curves"):
        axes = drawn[name].axes[0]
        legend = axes.get_legend().get_window_extent()
        assert legend.x0 >= axes.get_window_extent().x1, f"{name}: the legend covers the data"
    assert "at least 10 trained trials" in markdown
    cells = [entry.cells()["reason"] for entry in leaderboard(study).entries]
    assert sorted(cells) == ["", "FLOPs 62.1M > 60M", "params 1.07M > 1M"]
