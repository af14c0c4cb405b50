"""The live views of ``search`` and ``fidelity``: what they draw from the events they are given."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from archbench.cli._fidelity import FidelityView
from archbench.cli._search import SearchProgress
from archbench.fidelity import FidelityStarted, Scoring, Trainings
from archbench.search import BestTrial, Budget, Prescreening, SearchSettings, TrialCounts


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
    view(counts(6, BestTrial(number=7, val_accuracy=0.9712, n_params=812_000)))
    clock.now = 60.0
    text = draw(view)
    assert "trained 6/10" in text and "rejected 3" in text and "running 2" in text
    assert "ETA 120s" in text  # 2 trainings in 60 s, 4 to go
    assert "best: trial 7  val acc 97.12%  params 812k" in text


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
