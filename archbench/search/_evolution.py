"""Regularized evolution (REA) as an Optuna sampler: ``--sampler rea``.

Real, Aggarwal, Huang and Le, "Regularized Evolution for Image Classifier Architecture Search",
AAAI 2019, the NAS field's standard baseline (and the best of the NAS-Bench-201 paper's
searches). The population is the last ``population_size`` trials that trained (aging: the oldest
leaves, however good); each new trial samples ``tournament_size`` of them, takes the best and
changes one of its params. The first ``population_size`` trials are random.

Two departures from the paper, for a search that counts its trials: a child that repeats a config
already tried is mutated again (up to ``MAX_RETRIES`` times), since evaluating it twice would only
spend a trial; and budget rejections are invisible, as for archbench's TPE (``_samplers.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial, TrialState

from archbench.store import is_rejected

MAX_RETRIES = 20


class RegularizedEvolutionSampler(optuna.samplers.BaseSampler):
    """Aging evolution over the params the trained trials share; single-objective."""

    def __init__(
        self, population_size: int = 10, tournament_size: int = 5, seed: int | None = None
    ) -> None:
        if not 1 <= tournament_size <= population_size:
            raise ValueError(
                f"tournament_size: must be in [1, population_size={population_size}], "
                f"got {tournament_size}"
            )
        self.population_size = population_size
        self.tournament_size = tournament_size
        self._rng = np.random.RandomState(seed)
        self._random = optuna.samplers.RandomSampler(seed=seed)
        self._search_space = IntersectionSearchSpace(include_pruned=False)

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        space = self._search_space.calculate(study)
        return {name: d for name, d in space.items() if not d.single()}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        trained = _trained(study)
        if len(trained) < self.population_size:
            return {}  # random start: sample_independent draws every param
        population = trained[-self.population_size :]
        picks = self._rng.choice(len(population), self.tournament_size, replace=False)
        contestants = [population[i] for i in picks]
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
        parent = max(contestants, key=lambda t: sign * float(t.values[0]))
        seen = {_key(t.params, search_space) for t in study.get_trials(deepcopy=False)}
        child = self._mutate(parent.params, search_space, study, trial)
        for _ in range(MAX_RETRIES):
            if _key(child, search_space) not in seen:
                break
            child = self._mutate(child, search_space, study, trial)
        return child

    def _mutate(
        self,
        params: dict[str, Any],
        search_space: dict[str, BaseDistribution],
        study: optuna.Study,
        trial: FrozenTrial,
    ) -> dict[str, Any]:
        """``params`` with one param, chosen at random, set to another of its values."""
        child = {name: params[name] for name in search_space if name in params}
        names = sorted(search_space)
        name = names[self._rng.randint(len(names))]
        distribution = search_space[name]
        if isinstance(distribution, CategoricalDistribution):
            others = [c for c in distribution.choices if c != child.get(name)]
            child[name] = others[self._rng.randint(len(others))]
        else:  # numeric: a fresh draw from its range
            child[name] = self._random.sample_independent(study, trial, name, distribution)
        return child

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)


def _trained(study: optuna.Study) -> list[FrozenTrial]:
    """The study's trained trials, oldest first: budget rejections left out."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return [t for t in trials if not is_rejected(t)]


def _key(params: dict[str, Any], names: Sequence[str] | dict[str, Any]) -> tuple[Any, ...]:
    return tuple(params.get(name) for name in sorted(names))
