"""The live views of ``search`` and ``fidelity``: what they draw from the events they are given."""

from __future__ import annotations

import io
import time
from dataclasses import replace

import pytest
from rich.console import Console

from archbench.budget import Budget
from archbench.cli._fidelity import FidelityView
from archbench.cli._search import SearchProgress
from archbench.fidelity import FidelityStarted, Scoring, Trainings
from archbench.search import BestTrial, Prescreening, SearchSettings, SearchStarted, TrialCounts
from tests.conftest import invoke


def draw(view: object) -> str:
    out = Console(file=io.StringIO(), width=200, color_system=None)
    out.print(view)
    return out.file.getvalue()  # type: ignore[attr-defined]


class Clock:
    """``time.perf_counter`` as the test sets it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        monkeypatch.setattr(time, "perf_counter", lambda: self.now)


def counts(trained: int, best: BestTrial | None = None) -> TrialCounts:
    return TrialCounts("demo", 10, trained, rejected=3, pruned=1, failed=0, running=2, best=best)


def test_search_view_counts_the_study_and_estimates_from_this_runs_trainings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    view = SearchProgress(
        SearchSettings(space="resnet", budget=Budget(max_params=5_000_000), n_trials=10), "demo"
    )
    view(counts(4))  # resumed: 4 trained before this run
    assert "ETA -" in draw(view), "no estimate before this run has trained a trial"
    clock.now = 60.0
    view(counts(6, BestTrial(number=7, val_accuracy=0.9712, n_params=812_000)))
    text = draw(view)
    assert "trained 6/10" in text and "rejected 3" in text and "running 2" in text
    assert "ETA 120s" in text  # 2 trainings in 60 s, 4 to go
    assert "best: trial 7  val acc 97.12%  params 812k" in text
    clock.now = 90.0
    assert "ETA 90s" in draw(view), "the estimate counts down between trainings, never up"


def test_search_view_shows_prescreening_until_it_is_done() -> None:
    view = SearchProgress(
        SearchSettings(space="resnet", budget=Budget(max_params=5_000_000), n_trials=10), "demo"
    )
    view(Prescreening("grad_norm", 200, 50, 1.0))
    assert "prescreening 200 configs with grad_norm: 50 scored" in draw(view)
    view(Prescreening("grad_norm", 200, 200, 4.0))
    assert "prescreening" not in draw(view)
    assert "best: none yet" in draw(view)


def test_fidelity_view_weighs_the_eta_by_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    view = FidelityView()
    view(FidelityStarted("fid", ("epochs=1", "reference:seed=0"), total=20))
    view(Scoring(3, 10))
    assert "zero-cost scores 3/10" in draw(view)
    clock.now = 50.0  # scoring took 50 s, which the ETA leaves out
    view(Trainings("epochs=1", 0, 20, running=1, failed=0, epochs_done=0, epochs_total=70))
    clock.now = 80.0
    view(Trainings("epochs=1", 10, 20, running=1, failed=0, epochs_done=10, epochs_total=70))
    text = draw(view)
    assert text.startswith("fid  trainings 10/20  now epochs=1  running 1  failed 0")
    assert "elapsed 30s  ETA 180s" in text  # 10 epochs in 30 s, 60 to go


def search_view() -> SearchProgress:
    return SearchProgress(
        SearchSettings(space="resnet", budget=Budget(max_params=5_000_000), n_trials=10), "demo"
    )


def test_search_view_shows_the_running_trials_epoch() -> None:
    view = search_view()
    view(replace(counts(1), epochs=10, running_epochs=((7, 2), (8, 0))))
    assert "running 2 (trial 7 epoch 3/10, trial 8 epoch 1/10)" in draw(view)


def test_piped_search_prints_a_line_per_finished_trial_and_per_epoch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock(monkeypatch)
    view = search_view()
    assert not view.terminal  # pytest captures stdout
    view(replace(counts(0), epochs=3, running_epochs=((5, 0),)))
    view(replace(counts(0), epochs=3, running_epochs=((5, 0),)))  # nothing new: no line
    clock.now = 30.0
    view(replace(counts(0), epochs=3, running_epochs=((5, 1),)))
    clock.now = 60.0
    view(replace(counts(1, BestTrial(5, 0.5, 1000)), epochs=3, running_epochs=((6, 0),)))
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "demo: trained 0/10  rejected 3  pruned 1  failed 0  best: none yet  elapsed 0s  ETA -",
        "  trial 5: epoch 1/3 done",
        "demo: trained 1/10  rejected 3  pruned 1  failed 0  best: trial 5  val acc 50.00%  "
        "params 1k  elapsed 60s  ETA 540s",
    ]


def test_nothing_is_drawn_before_the_library_has_checked_the_settings() -> None:
    view = search_view()
    view.terminal = True  # as on a terminal, where a frame would be drawn
    with view:
        view(SearchStarted("demo", "optuna", 10))
        assert not view.shown
        view(counts(0))
        assert view.shown


def test_a_bad_space_gives_its_error_without_a_frame(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(capsys, "search", "--space", "resnett", "--trials", "1")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "resnett" in err


def test_piped_fidelity_prints_a_line_per_finished_training(
    capsys: pytest.CaptureFixture[str],
) -> None:
    view = FidelityView()
    view(FidelityStarted("fid", ("epochs=1", "reference:seed=0"), total=4))
    view(Trainings("epochs=1", 0, 4, running=1, failed=0, epochs_done=0, epochs_total=8))
    view(Trainings("epochs=1", 0, 4, running=1, failed=0, epochs_done=0, epochs_total=8))
    view(Trainings("epochs=1", 1, 4, running=1, failed=0, epochs_done=1, epochs_total=8))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "fid: 4 trainings (epochs=1, reference:seed=0)"
    assert len(lines) == 3 and lines[2].startswith("fid: trainings 1/4  now epochs=1")


def test_the_summary_table_has_a_baseline_column_only_with_a_baseline() -> None:
    from archbench.cli._search import _summary_table
    from archbench.search import SearchSummary

    row = {"trial": 3, "val_accuracy": 0.9, "n_params": 1000, "epochs": 1, "baseline": None}
    summary = SearchSummary("demo", "sqlite:///x.db", 1, 0, 0, 0, 1.0, [row])
    assert "baseline" not in draw(_summary_table(summary))
    with_baseline = replace(summary, best=[row | {"baseline": "resnet20_cifar"}])
    assert "baseline" in draw(_summary_table(with_baseline))
