"""``--prescreen``: real searches whose first trials are the best-scored configs of a pool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from archbench.budget import Budget
from archbench.search import (
    PRESCREEN_ATTR,
    Prescreening,
    ProgressEvent,
    ScoredPool,
    SearchSettings,
    run,
)
from archbench.search._context import TrialContext
from archbench.store import PRUNED, TRAINED, TrialRecord, open_storage, trial_status
from archbench.store._ledger import without_rejections
from archbench.zerocost import feasible_pool
from tests.conftest import invoke, run_cli
from tests.search.conftest import TINY_BUDGET, tiny_search_args, tiny_settings

POOL = 12


def prescreen_settings(space: Path, storage: str, trials: int, **overrides: Any) -> SearchSettings:
    values = {"dataset": "digits", "prescreen": POOL, "zero_cost": "snip", **overrides}
    return tiny_settings(space, storage, trials, **values)


def load(storage: str) -> optuna.Study:
    return optuna.load_study(study_name="tiny", storage=open_storage(storage))


def searched_in_order(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)


def test_best_scored_configs_train_first_and_resume_reuses_the_scores(
    tiny_space: Path, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    events: list[ProgressEvent] = []
    settings = prescreen_settings(tiny_space, storage, 4, prescreen_top=2)
    summary = run(settings, progress=events.append)
    study = load(storage)
    pool = ScoredPool.from_attr(study.user_attrs[PRESCREEN_ATTR])
    assert (pool.score, len(pool.params), pool.seed) == ("snip", POOL, 0)
    assert summary.prescreen is not None and summary.prescreen["samples"] == POOL

    # The pool: distinct configs within the budget, as the search's own check decides.
    context = TrialContext.of(settings)
    space, shape = context.space, context.shape
    assert len({json.dumps(p, sort_keys=True) for p in pool.params}) == POOL
    drawn = feasible_pool(space, settings.budget, shape, POOL, 0)
    assert [c.params for c in drawn] == pool.params, "the stored pool is the seeded draw"

    # The first two trials are the pool's two best, with their scores and ranks as attrs.
    best_two = [pool.params[i] for i in pool.ranked()[:2]]
    first = searched_in_order(study)[:2]
    assert [t.params for t in first] == best_two
    for rank, trial in enumerate(first, 1):
        record = TrialRecord.read(trial)
        assert record.zero_cost is not None
        assert record.zero_cost["rank"] == rank and record.zero_cost["score"] == "snip"
        assert record.zero_cost["value"] == pool.values[pool.ranked()[rank - 1]]
        assert trial_status(trial) in (TRAINED, PRUNED) and record.n_params <= TINY_BUDGET
    assert max(pool.values) == first[0].user_attrs["zero_cost"]["value"]

    # TPE models them like any trained trial: they are COMPLETE and its view keeps them.
    modeled = without_rejections(study).get_trials(states=(TrialState.COMPLETE,))
    assert {t.number for t in first} <= {t.number for t in modeled}

    screening = [e for e in events if isinstance(e, Prescreening)]
    assert screening[0].scored == 0 and screening[-1].done and not screening[-1].reused
    assert [e.scored for e in screening] == list(range(POOL + 1))

    # Resume with more trials: the stored scores are read back, nothing is scored again.
    stored = study.user_attrs[PRESCREEN_ATTR]
    events.clear()
    run(prescreen_settings(tiny_space, storage, 5, prescreen_top=2), progress=events.append)
    screening = [e for e in events if isinstance(e, Prescreening)]
    assert len(screening) == 1 and screening[0].reused and screening[0].done
    study = load(storage)
    assert study.user_attrs[PRESCREEN_ATTR] == stored
    scored = [t for t in study.trials if "zero_cost" in t.user_attrs]
    assert len(scored) == 2, "a resume enqueues no prescreened config twice"

    # results: a score column in the table, and both fields in JSON and CSV.
    board = run_cli("results", "--study", "tiny", "--storage", storage, "--json")
    assert board.returncode == 0, board.stderr
    rows = {row["number"]: row for row in json.loads(board.stdout)["trials"]}
    assert rows[first[0].number]["zero_cost_rank"] == 1
    assert rows[first[0].number]["zero_cost_score"] == pytest.approx(max(pool.values))
    table = run_cli("results", "--study", "tiny", "--storage", storage)
    assert "zero-cost score" in table.stdout
    csv = tmp_path / "board.csv"
    done = run_cli("results", "--study", "tiny", "--storage", storage, "--csv", str(csv))
    assert done.returncode == 0, done.stderr
    assert "zero_cost_score,zero_cost_rank" in csv.read_text().splitlines()[0]


def test_another_score_on_resume_is_refused(tiny_space: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    run(prescreen_settings(tiny_space, storage, 1, zero_cost="params"))
    with pytest.raises(ValueError, match="was prescreened with --prescreen 12 --zero-cost params"):
        run(prescreen_settings(tiny_space, storage, 2, zero_cost="synflow"))
    assert load(storage).user_attrs[PRESCREEN_ATTR]["score"] == "params"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--prescreen", "0", "--zero-cost", "synflow"], "prescreen: must be >= 1"),
        (["--prescreen", "10", "--zero-cost", "synflo"], "unknown zero-cost score 'synflo'"),
        (["--prescreen", "10"], "--prescreen needs a score"),
        (["--prescreen-top", "2"], "need --prescreen K"),
        (["--zero-cost", "snip"], "need --prescreen K"),
        (["--prescreen", "3", "--zero-cost", "snip", "--prescreen-top", "4"], "between 1 and"),
        (["--prescreen", "30", "--zero-cost", "snip", "--prescreen-top", "9"], "more than the 4"),
    ],
)
def test_bad_prescreen_options_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    tiny_space: Path,
    tmp_path: Path,
    extra: list[str],
    message: str,
) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    code, _, err = invoke(capsys, *tiny_search_args(tiny_space, storage, 4, *extra))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s.db").exists(), "nothing is created for a refused command"


def test_prescreen_settings_validation_in_the_library(tiny_space: Path) -> None:
    with pytest.raises(ValueError, match="prescreen_top"):
        SearchSettings(
            space=str(tiny_space), budget=Budget(TINY_BUDGET), n_trials=8, prescreen=4,
            zero_cost="ensemble", prescreen_top=5,
        )  # fmt: skip
    settings = SearchSettings(
        space=str(tiny_space), budget=Budget(TINY_BUDGET), n_trials=9, prescreen=100,
        zero_cost="ensemble",
    )  # fmt: skip
    assert settings.prescreen_count == 2  # a quarter of the trials


def test_the_pool_is_scored_on_the_trials_split_without_touching_their_device(
    tiny_space: Path,
) -> None:
    """A Ray driver scores the pool on the trials' data and may own no GPU: loading that data
    resolves no device (the trials' CUDA here, which a CPU-only machine lacks)."""
    context = TrialContext.of(tiny_settings(tiny_space, "sqlite:///unused.db", 1, device="cuda"))
    data = context.trial_data()
    assert len(data.train) > 0 and data.recipe == context.recipe


@pytest.mark.ray
@pytest.mark.slow
def test_ray_trains_the_best_scored_configs_first(
    ray_address: str, tiny_space: Path, tmp_path: Path
) -> None:
    from archbench.search import RaySettings, run

    storage = f"sqlite:///{tmp_path}/s.db"
    settings = prescreen_settings(
        tiny_space, storage, 2, prescreen_top=2, backend="ray", ray=RaySettings(), zero_cost="snip"
    )
    run(settings)
    study = load(storage)
    pool = ScoredPool.from_attr(study.user_attrs[PRESCREEN_ATTR])
    scored = {
        json.dumps(t.params, sort_keys=True): t.user_attrs["zero_cost"]
        for t in study.trials
        if "zero_cost" in t.user_attrs
    }
    best_two = [pool.params[i] for i in pool.ranked()[:2]]
    assert sorted(scored) == sorted(json.dumps(p, sort_keys=True) for p in best_two)
    assert sorted(a["rank"] for a in scored.values()) == [1, 2]
    assert all(a["score"] == "snip" for a in scored.values())
    trained = [t for t in study.trials if "zero_cost" in t.user_attrs]
    assert all(
        trial_status(t) in (TRAINED, PRUNED) and "ray_trial_id" in t.user_attrs for t in trained
    )
