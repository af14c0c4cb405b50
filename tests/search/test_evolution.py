"""Regularized evolution (``--sampler rea``) on NAS-Bench-201's table: seeded and better than
random."""

from __future__ import annotations

import statistics

import optuna

from archbench.search import make_sampler, suggest
from archbench.spaces import DataShape, get_space
from archbench.tables import nb201_accuracies


def _search(sampler: str, seed: int, trials: int) -> optuna.Study:
    table = nb201_accuracies("cifar10")
    space = get_space("nb201")
    shape = DataShape(10, 3, 32)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(sampler, seed))
    study.optimize(
        lambda trial: table[space.to_config(suggest(trial, space), shape).arch], n_trials=trials
    )
    return study


def test_rea_is_deterministic_under_a_seed() -> None:
    first, second = (_search("rea", 3, 25) for _ in range(2))
    assert [t.params for t in first.trials] == [t.params for t in second.trials]
    assert [t.params for t in _search("rea", 4, 25).trials] != [t.params for t in first.trials]


def test_rea_mutates_one_edge_and_repeats_no_config() -> None:
    trials = _search("rea", 0, 40).trials
    keys = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(keys)) == len(keys)
    for trial in trials[10:]:  # after the 10 random ones, each child is one edge from a parent
        assert any(
            sum(trial.params[k] != other.params[k] for k in trial.params) == 1
            for other in trials[: trial.number]
        )


def test_rea_beats_random_search_on_the_table() -> None:
    seeds = range(6)
    rea = statistics.mean(_search("rea", s, 50).best_value for s in seeds)
    random = statistics.mean(_search("random", s, 50).best_value for s in seeds)
    assert rea > random + 0.2, (rea, random)
