"""The Optuna side of a search: suggestions from a space, samplers and pruners.

``suggest`` walks the declarative space in order and calls ``trial.suggest_*`` for the active
params only: define-by-run generated from data. Ray's searcher (``_ray_backend.py``) calls it too.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from archbench.search._evolution import RegularizedEvolutionSampler
from archbench.spaces import ChoiceParam, FixedParam, FloatParam, IntParam, SearchSpace
from archbench.store import is_rejected, is_trained, without_rejections

# Trained trials that TPE samples at random before it models: 5 rather than Optuna's 10, so that a
# 10-trial search already models half of its trials (benchmarks/sampler_rejections.py, README).
TPE_STARTUP_TRIALS = 5
# Regularized evolution: population and tournament sizes (benchmarks/search_quality_nb201.py).
REA_POPULATION = 10
REA_TOURNAMENT = 10  # the whole population: the best of the last 10 is the parent
# Budget rejections since the last trained trial after which TPE proposes at random until a config
# trains. TPE models trained configs only, so under a tight cap it can keep proposing over-budget
# neighbours of its best one; on CIFAR-10 under 300k params and 30M FLOPs it met the 200-in-a-row
# stop where random search never did (docs/results/cifar10_figures.md).
TPE_RANDOM_AFTER_REJECTIONS = 20
WORST_VALUES = {"accuracy": 0.0, "params": float(10**12), "latency": 1e9, "throughput": 0.0}


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Suggests a value for every active param of ``space``; returns the params dict."""
    params: dict[str, Any] = {}
    for name in space:
        if not space.is_active(name, params):
            continue
        param = space.params[name]
        if isinstance(param, IntParam):
            params[name] = trial.suggest_int(
                name, param.low, param.high, step=param.step, log=param.log
            )
        elif isinstance(param, FloatParam):
            params[name] = trial.suggest_float(
                name, param.low, param.high, step=param.step, log=param.log
            )
        elif isinstance(param, ChoiceParam):
            params[name] = trial.suggest_categorical(name, list(param.choices))
        elif isinstance(param, FixedParam):
            params[name] = param.value
    return params


def make_sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    """The sampler for ``name``; TPE is multivariate and grouped for conditional spaces."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "rea":
        return RegularizedEvolutionSampler(
            population_size=REA_POPULATION, tournament_size=REA_TOURNAMENT, seed=seed
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return FeasibleTPESampler(
            seed=seed, multivariate=True, group=True, n_startup_trials=TPE_STARTUP_TRIALS
        )


class FeasibleTPESampler(optuna.samplers.TPESampler):
    """TPE that models only the trials that trained; budget rejections are invisible to it.

    A rejection is stored PRUNED with a positive constraint. Plain TPE counts it as a startup
    trial and puts it in its "above" set; when most proposals are rejected (about 92% for the
    resnet space under 1M params and 60M FLOPs) its "below" set then holds every config that
    trained, so it learns feasibility instead of accuracy and stays in the first feasible region
    it finds. Here ``n_startup_trials`` counts trained trials, and the below/above split ranks
    trained trials by their value. Rejections stay in the storage for the results.

    Blind to rejections, TPE can stall where its model points over the budget: after
    ``random_after_rejections`` rejections since the last trained trial it proposes at random
    until one trains. The switch is read from the study, so every process agrees on it.
    """

    def __init__(self, *, random_after_rejections: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._random_after_rejections = (
            TPE_RANDOM_AFTER_REJECTIONS if random_after_rejections is None
            else random_after_rejections
        )  # fmt: skip
        seed = kwargs.get("seed")  # TPE's startup draws use ``seed``: a stream of its own here
        self._fallback = optuna.samplers.RandomSampler(seed=None if seed is None else seed + 1)
        self._random_trial: int | None = None  # the trial this process proposes at random

    def reseed_rng(self) -> None:
        super().reseed_rng()
        self._fallback.reseed_rng()

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        super().before_trial(study, trial)
        stalled = rejections_since_trained(study) >= self._random_after_rejections
        self._random_trial = trial.number if stalled else None

    def _at_random(self, trial: FrozenTrial) -> bool:
        return self._random_trial == trial.number

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return super().infer_relative_search_space(without_rejections(study), trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if self._at_random(trial):
            return {}
        return super().sample_relative(without_rejections(study), trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self._at_random(trial):
            return self._fallback.sample_independent(study, trial, param_name, param_distribution)
        return super().sample_independent(
            without_rejections(study), trial, param_name, param_distribution
        )


def rejections_since_trained(study: optuna.Study) -> int:
    """Finished trials rejected by the budget since the last trained one, in trial order."""
    finished = (TrialState.COMPLETE, TrialState.PRUNED)
    count = 0
    for trial in reversed(study.get_trials(deepcopy=False, states=finished)):
        if is_rejected(trial):
            count += 1
        elif is_trained(trial):
            break
    return count


def make_pruner(name: str, n_objectives: int) -> optuna.pruners.BasePruner:
    """Epoch-based pruning on validation accuracy; multi-objective studies cannot prune."""
    if name == "none" or n_objectives > 1:
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)


def rejected_values(sampler: str, objectives: Sequence[str]) -> list[float] | None:
    """The values a rejected trial ends with, on either backend: none (PRUNED) for most samplers,
    the worst values (COMPLETE) for GP and NSGA-II, which ignore pruned trials and would
    propose a rejected config again."""
    if sampler not in ("gp", "nsga2"):
        return None
    return [WORST_VALUES[name] for name in objectives]
