"""Training a given pool of configs, each once: the search core as a trainer (``fidelity``).

``train_configs`` enqueues the pool's configs, each tagged with its ``pool_index``, and runs the
search until each has trained or failed. A rerun enqueues only what the study has neither
trained nor failed: nothing trains twice, and a failed config is not replaced by another draw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import optuna
from optuna.trial import TrialState

from archbench.search._context import TrialContext
from archbench.search._run import Progress, counts, make_backend, watching
from archbench.search._settings import SearchSettings
from archbench.search._study import prepare_study
from archbench.store import (
    FAILED,
    POOL_INDEX,
    REASON,
    RUNNING,
    STATUS,
    TRAINED,
    VAL_ACCURACY,
    counts_by_status,
    trial_status,
)


@dataclass(frozen=True)
class PoolState:
    """Per pool index: trained (its best validation accuracy), failed (its reason), or pending
    (waiting or running)."""

    trained: dict[int, float]
    failed: dict[int, str]
    pending: set[int]


def train_configs(
    settings: SearchSettings,
    params: list[dict[str, Any]],
    *,
    train_seed: int | None = None,
    retry_failed: bool = False,
    progress: Progress | None = None,
) -> PoolState:
    """Trains the configs of ``params`` the study has not trained or failed yet (with
    ``retry_failed``, not trained yet), with the settings' workers or Ray; returns the state.

    ``settings.n_trials`` is ignored: the pool sets the count, and the sampler proposes nothing.
    ``train_seed`` seeds the trainings instead of the recipe (``TrialContext.of``).
    The settings are resolved and the study prepared once, then run as a search would be.
    """
    context = TrialContext.of(settings, train_seed)
    backend = make_backend(context)
    study = prepare_study(context)
    state = pool_state(study)
    if progress is not None:  # where a resumed run stands, before anything trains
        progress(counts(study, len(params)))
    given_up = set() if retry_failed else set(state.failed)
    settled = set(state.trained) | given_up | state.pending
    missing = [index for index in range(len(params)) if index not in settled]
    for index in missing:
        study.enqueue_trial(params[index], user_attrs={POOL_INDEX: index})
    if missing or state.pending:
        # --trials counts trained trials, and a config a restored Ray run trained twice has two.
        target = counts_by_status(study)[TRAINED] + len(missing) + len(state.pending)
        pool_only = replace(context, settings=replace(settings, n_trials=target), pool_only=True)
        with watching(study, target, progress):
            backend.optimize(study, pool_only)
        state = pool_state(study)
    return state


def pool_state(study: optuna.Study) -> PoolState:
    """The pool's state in ``study``.

    A trial that ended FAIL without a stored failure (an interrupted run) is none of these, so
    its config is enqueued again.
    """
    trained: dict[int, float] = {}
    failed: dict[int, str] = {}
    pending: set[int] = set()
    for trial in study.get_trials(deepcopy=False):
        index = trial.user_attrs.get(POOL_INDEX)
        if index is None:
            continue
        status = trial_status(trial)
        if status == TRAINED and trial.state == TrialState.COMPLETE:
            trained[index] = float(trial.user_attrs.get(VAL_ACCURACY, trial.values[0]))
        elif status == RUNNING:
            pending.add(index)
        elif status == FAILED and trial.user_attrs.get(STATUS) == FAILED:
            failed[index] = str(trial.user_attrs.get(REASON, "failed"))
    for index in set(trained) | pending:
        failed.pop(index, None)
    return PoolState(trained, failed, pending - set(trained))
