"""Running, or resuming, a fidelity run: draw the pool, score it, train it at every setting.

The storage is the one source of truth. The pool (the K configs' params) and their zero-cost
scores are user attrs of the parent study; each training setting is a search study whose trials
are the pool's configs, trained by the search core (``archbench.search.train_configs``), so
``--workers`` and Ray work as in ``search``. Rerunning the same command draws nothing, scores
nothing and trains nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna

from archbench.budget import decide, ensure_feasible
from archbench.fidelity._plan import FidelitySettings, Training
from archbench.models import ModelConfig
from archbench.search import ProgressEvent, TrialContext, TrialCounts, quiet_optuna, train_configs
from archbench.store import open_storage
from archbench.zerocost import (
    ENSEMBLE,
    ensemble_members,
    feasible_pool,
    get_score,
    mean_rank,
    resolve_scores,
    score_configs,
    scoring_batches,
)

# User attrs of the parent study.
RUN_ATTR = "fidelity"  # the settings a resumed run must share, and the pool
SCORES_ATTR = "fidelity_scores"  # zero-cost score name -> one value per pool config
_MUST_MATCH = (
    "space",
    "max_params",
    "max_flops",
    "dataset",
    "samples",
    "seed",
    "recipe",
    "proxy_subset",
    "reference_epochs",
    "benchmark",
)


@dataclass(frozen=True)
class FidelityStarted:
    study: str
    labels: tuple[str, ...]
    total: int  # trainings, every setting together


@dataclass(frozen=True)
class Scoring:
    done: int
    total: int


@dataclass(frozen=True)
class Trainings:
    """Where the run stands: trainings done of all settings, and the setting now training."""

    label: str
    done: int
    total: int
    running: int
    failed: int
    epochs_done: int  # epochs of the finished trainings, for an ETA that weighs long ones more
    epochs_total: int


FidelityEvent = FidelityStarted | Scoring | Trainings
FidelityProgress = Callable[[FidelityEvent], None]


@dataclass(frozen=True)
class FidelityRun:
    """What a fidelity run measured, one value per pool config (None: failed or missing)."""

    settings: FidelitySettings
    configs: list[ModelConfig]
    n_params: list[int]
    scores: dict[str, list[float]]
    accuracies: dict[str, list[float | None]]  # training label -> best validation accuracy
    failures: dict[str, dict[int, str]]  # training label -> pool index -> reason
    references: tuple[str, ...]  # the labels of the reference trainings
    seconds: float


def run_fidelity(
    settings: FidelitySettings,
    *,
    progress: FidelityProgress | None = None,
    verbose: bool = False,
) -> FidelityRun:
    """Draws (or reloads) the pool, scores it, trains it at every setting; resumes where it was.

    Raises:
        ValueError: bad settings, an infeasible budget, or a parent study made with other settings.
        SearchAborted: a setting had too many failed trainings.
    """
    start = time.perf_counter()
    if not verbose:
        quiet_optuna()
    emit = progress or (lambda event: None)
    trainings = settings.trainings()
    reference = TrialContext.of(trainings[-1].settings, trainings[-1].train_seed)
    space, shape = reference.space, reference.shape
    ensure_feasible(space, settings.budget, shape)
    parent = _parent_study(settings)
    params = _pool(parent, settings, space, shape)
    configs = [space.to_config(p, shape) for p in params]
    total = len(trainings) * len(configs)
    emit(FidelityStarted(settings.name, tuple(t.label for t in trainings), total))
    scores = _scores(parent, settings, configs, reference, emit)
    accuracies: dict[str, list[float | None]] = {}
    failures: dict[str, dict[int, str]] = {}
    epochs_total = sum(t.epochs for t in trainings) * len(configs)
    done = epochs_done = 0
    for training in trainings:
        report = _Reporter(emit, training, done, epochs_done, total, epochs_total)
        state = train_configs(
            training.settings,
            params,
            train_seed=training.train_seed,
            retry_failed=settings.retry_failed,
            progress=report,
        )
        accuracies[training.label] = [state.trained.get(i) for i in range(len(configs))]
        failures[training.label] = dict(state.failed)
        done += len(configs)
        epochs_done += len(configs) * training.epochs
    return FidelityRun(
        settings=settings,
        configs=configs,
        n_params=[decide(c, settings.budget).n_params for c in configs],
        scores=scores,
        accuracies=accuracies,
        failures=failures,
        references=tuple(t.label for t in trainings if t.reference),
        seconds=time.perf_counter() - start,
    )


def _parent_study(settings: FidelitySettings) -> optuna.Study:
    storage = open_storage(settings.storage)
    return optuna.create_study(
        study_name=settings.name, storage=storage, direction="maximize", load_if_exists=True
    )


def _run_attrs(settings: FidelitySettings) -> dict[str, Any]:
    return {
        "space": settings.space,
        "max_params": settings.budget.max_params,
        "max_flops": settings.budget.max_flops,
        "dataset": settings.dataset,
        "samples": settings.samples,
        "seed": settings.seed,
        "recipe": settings.recipe,
        "proxy_subset": settings.proxy_subset,
        "reference_epochs": settings.reference_epochs,
        "benchmark": settings.benchmark,
    }


def _pool(
    parent: optuna.Study, settings: FidelitySettings, space: Any, shape: Any
) -> list[dict[str, Any]]:
    """The pool's params: stored ones on resume (after checking the settings), else drawn."""
    wanted = _run_attrs(settings)
    stored = parent.user_attrs.get(RUN_ATTR)
    if stored is not None:
        for key in _MUST_MATCH:
            if stored.get(key) != wanted[key]:
                raise ValueError(
                    f"study {settings.name!r} holds a fidelity run with {key}={stored.get(key)!r},"
                    f" not {wanted[key]!r}; pick another --study name"
                )
        return [dict(p) for p in stored["pool"]]
    pool = feasible_pool(space, settings.budget, shape, settings.samples, settings.seed)
    params = [candidate.params for candidate in pool]
    parent.set_user_attr(RUN_ATTR, {**wanted, "pool": params})
    return params


def _scores(
    parent: optuna.Study,
    settings: FidelitySettings,
    configs: list[ModelConfig],
    reference: TrialContext,
    emit: FidelityProgress,
) -> dict[str, list[float]]:
    """Every chosen score of every config; only the scores not stored yet are computed."""
    chosen = resolve_scores(list(settings.scores))
    members = ensemble_members(chosen) if ENSEMBLE in chosen else []
    needed = [n for n in dict.fromkeys([*settings.score_names, *members]) if n != ENSEMBLE]
    stored: dict[str, list[float]] = dict(parent.user_attrs.get(SCORES_ATTR) or {})
    missing = [name for name in needed if name not in stored]
    if missing:
        from archbench.hwprofile import resolve_device

        device = str(resolve_device(reference.device))
        batches = []
        if any(get_score(name).needs_data for name in missing):
            # The training split the trainings use, so the scores read the search's own data.
            train = reference.trial_data().train
            batches = scoring_batches(train, seed=settings.seed, device=device)
        emit(Scoring(0, len(configs)))
        rows = score_configs(
            configs,
            missing,
            batches=batches,
            seed=settings.seed,
            device=device,
            on_scored=lambda index, _: emit(Scoring(index + 1, len(configs))),
        )
        stored.update({name: [float(row[name]) for row in rows] for name in missing})
        parent.set_user_attr(SCORES_ATTR, stored)
    scores = {name: stored[name] for name in settings.score_names if name != ENSEMBLE}
    if ENSEMBLE in settings.score_names:
        rows = [{name: stored[name][i] for name in members} for i in range(len(configs))]
        scores[ENSEMBLE] = mean_rank(rows, members)
    return scores


class _Reporter:
    """Turns the search core's ``TrialCounts`` of one setting into run-wide ``Trainings``."""

    def __init__(
        self,
        emit: FidelityProgress,
        training: Training,
        done: int,
        epochs_done: int,
        total: int,
        epochs_total: int,
    ) -> None:
        self.emit = emit
        self.training = training
        self.done = done
        self.epochs_done = epochs_done
        self.total = total
        self.epochs_total = epochs_total

    def counts(self, trained: int, running: int, failed: int) -> None:
        self.emit(
            Trainings(
                label=self.training.label,
                done=self.done + trained,
                total=self.total,
                running=running,
                failed=failed,
                epochs_done=self.epochs_done + trained * self.training.epochs,
                epochs_total=self.epochs_total,
            )
        )

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, TrialCounts):
            self.counts(event.trained, event.running, event.failed)
