"""The Optuna side of a search: suggestions from a space, samplers and pruners.

``suggest`` walks the declarative space in order and calls ``trial.suggest_*`` for the active
params only: define-by-run generated from data. Ray Tune reuses it through ``OptunaSearch``.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna

from archbench.spaces import ChoiceParam, FixedParam, FloatParam, IntParam, SearchSpace


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


def make_sampler(name: str, seed: int | None, n_objectives: int) -> optuna.samplers.BaseSampler:
    """The sampler for ``name``; TPE is multivariate and grouped for conditional spaces."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


def make_pruner(name: str, n_objectives: int) -> optuna.pruners.BasePruner:
    """Epoch-based pruning on validation accuracy; multi-objective studies cannot prune."""
    if name == "none" or n_objectives > 1:
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)


def learns_only_from_complete(sampler: str) -> bool:
    """GP and NSGA-II ignore pruned trials, so a rejection must be a COMPLETE worst value."""
    return sampler in ("gp", "nsga2")
