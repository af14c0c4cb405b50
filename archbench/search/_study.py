"""A search's study, whichever backend runs it: its name, set-up and compatibility check.

``prepare_study`` creates the study or loads it to resume, after checking that the stored
settings match; ``run`` and ``train_configs`` start there, and the process that prepared it
runs its trials on it. A spawned worker opens it with ``load_study``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import optuna

import archbench
from archbench._units import format_count
from archbench.budget import ensure_feasible
from archbench.models import get_preset
from archbench.search._context import TrialContext
from archbench.search._prescreen import Prescreening, enqueue_top, ensure_prescreened
from archbench.search._samplers import make_pruner, make_sampler
from archbench.search._settings import SearchSettings
from archbench.store import BASELINE, VERSION_ATTR, SearchSpec, open_storage, retry


class SearchAborted(RuntimeError):
    """The search stopped before reaching its trials: too many rejections or failures."""


def study_name(settings: SearchSettings) -> str:
    """``--study``, else space-budget-dataset[-objectives]."""
    if settings.study:
        return settings.study
    space = settings.space.rsplit("/", 1)[-1].split(".")[0]
    objectives = "" if settings.objectives == ("accuracy",) else "-" + "-".join(settings.objectives)
    from archbench.data import dataset_label  # an image folder's stem, not its path

    dataset = dataset_label(settings.dataset)
    dataset += f"-{settings.benchmark}table" if settings.benchmark else ""
    return f"{space}-{format_count(settings.budget.max_params)}-{dataset}{objectives}"


def prepare_study(
    context: TrialContext,
    *,
    fresh: bool = False,
    on_prescreen: Callable[[Prescreening], None] | None = None,
) -> optuna.Study:
    """Creates the study, or loads it to resume after checking the settings match.

    With ``--prescreen`` it also scores the pool, once per study (``_prescreen.py``), and
    enqueues its best configs, after the baselines: the first trials of either backend.
    ``on_prescreen`` follows the scoring.

    Raises:
        ValueError: when the space cannot fit the budget, or a study of the same name was made
            with other settings.
    """
    settings, space = context.settings, context.space
    ensure_feasible(space, settings.budget, context.shape)
    name = study_name(settings)
    storage = _open(settings)
    if fresh:
        with contextlib.suppress(KeyError):  # nothing to delete
            optuna.delete_study(study_name=name, storage=storage)
    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            directions=settings.directions,
            **_sampler_and_pruner(settings),
        )
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, **_sampler_and_pruner(settings))
        created = False
    _settle_spec(study, context.spec(), wait=not created)
    _enqueue_baselines(study, settings.baselines)
    if VERSION_ATTR not in study.user_attrs:  # last: a loader waits for it (_settle_spec)
        study.set_user_attr(VERSION_ATTR, archbench.__version__)
    enqueue_top(study, settings, ensure_prescreened(study, context, on_prescreen))
    return study


def load_study(settings: SearchSettings, name: str) -> optuna.Study:
    """The prepared study ``name``, as a worker process opens it to run its trials."""
    return optuna.load_study(
        study_name=name, storage=_open(settings), **_sampler_and_pruner(settings)
    )


def _open(settings: SearchSettings) -> optuna.storages.BaseStorage:
    """The search's storage, whose heartbeat retries the configs of stale trials."""
    return open_storage(
        settings.storage, heartbeat_seconds=settings.heartbeat_seconds, on_stale=retry
    )


def _sampler_and_pruner(settings: SearchSettings) -> dict[str, Any]:
    """The sampler and the pruner the trials of this process ask (seeded per worker)."""
    return {
        "sampler": make_sampler(settings.sampler, settings.seed),
        "pruner": make_pruner(settings.pruner, len(settings.objectives)),
    }


_CREATOR_WAIT_SECONDS = 30.0


def _settle_spec(study: optuna.Study, spec: SearchSpec, *, wait: bool) -> None:
    """Writes the study's spec, or checks ours against the one stored.

    Optuna writes user attrs one key at a time, so a process that loads a study another has
    just created waits for the creator's mark before comparing, and then sees its baselines
    too. A creator that died midway leaves keys missing; they are filled in from ours once the
    wait is over.
    """
    existing = study.user_attrs
    deadline = time.monotonic() + (_CREATOR_WAIT_SECONDS if wait else 0.0)
    while VERSION_ATTR not in existing and time.monotonic() < deadline:
        time.sleep(0.1)
        existing = study.user_attrs
    conflict = spec.conflict(existing)
    if conflict is not None:
        raise ValueError(
            f"study {study.study_name!r} exists with {conflict}; pick another --study name or "
            "pass --fresh to start over"
        )
    for key, value in spec.to_attrs().items():
        if key not in existing:
            study.set_user_attr(key, value)


def _enqueue_baselines(study: optuna.Study, baselines: tuple[str, ...]) -> None:
    present = {t.user_attrs.get(BASELINE) for t in study.get_trials(deepcopy=False)}
    for preset in baselines:
        get_preset(preset)  # fails early on a typo
        if preset not in present:
            study.enqueue_trial({}, user_attrs={BASELINE: preset})
