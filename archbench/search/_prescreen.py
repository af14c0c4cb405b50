"""Prescreening: score K feasible configs at initialisation, train the best ones first.

``--prescreen K --zero-cost SCORE`` scores K configs within the budget on the trials' training
split and stores the pool and its scores in the study (``PRESCREEN_ATTR``), so that a resume
reads them back. ``prepare_study`` enqueues the best ``settings.prescreen_count`` as the first
trials; they train like any trial, so the sampler learns from them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
import torch

from archbench.budget import decide
from archbench.evaluators import free_accelerator_memory
from archbench.search._context import TrialContext
from archbench.search._settings import SearchSettings
from archbench.spaces import FixedParam, SearchSpace
from archbench.store import zero_cost_attrs
from archbench.zerocost import feasible_pool

PRESCREEN_ATTR = "prescreen"  # study user attr: the scored pool (``ScoredPool.to_attr``)


@dataclass(frozen=True)
class Prescreening:
    """Progress of the prescreen: ``scored`` of ``total`` configs after ``seconds``.

    ``reused`` says the study already held the scores (a resume): nothing was scored.
    """

    score: str
    total: int
    scored: int
    seconds: float
    reused: bool = False

    @property
    def done(self) -> bool:
        return self.scored == self.total


@dataclass(frozen=True)
class ScoredPool:
    """The prescreened configs (their searched params) and their scores, in draw order."""

    score: str
    seed: int
    seconds: float
    params: list[dict[str, Any]]
    values: list[float]

    def ranked(self) -> list[int]:
        from archbench.zerocost import best_first

        return best_first([{self.score: v} for v in self.values], self.score)

    def top(self, count: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """The best ``count`` configs: their params and their ``zero_cost`` trial attrs."""
        return [
            (self.params[index], zero_cost_attrs(self.score, self.values[index], rank))
            for rank, index in enumerate(self.ranked()[:count], 1)
        ]

    def to_attr(self) -> dict[str, Any]:
        """Compact JSON: the param names once, then one list of values per config."""
        names = sorted({name for params in self.params for name in params})
        return {
            "score": self.score,
            "samples": len(self.params),
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "names": names,
            "pool": [[params.get(name) for name in names] for params in self.params],
            "values": self.values,
        }

    @classmethod
    def from_attr(cls, attr: dict[str, Any]) -> ScoredPool:
        names = attr["names"]
        params = [
            {name: value for name, value in zip(names, row) if value is not None}
            for row in attr["pool"]
        ]
        return cls(attr["score"], attr["seed"], attr["seconds"], params, list(attr["values"]))


def stored_pool(study: optuna.Study) -> ScoredPool | None:
    attr = study.user_attrs.get(PRESCREEN_ATTR)
    return ScoredPool.from_attr(attr) if attr else None


def ensure_prescreened(
    study: optuna.Study,
    context: TrialContext,
    on_progress: Callable[[Prescreening], None] | None = None,
) -> ScoredPool | None:
    """The study's scored pool: read back when stored, else drawn, scored and stored.

    Raises:
        ValueError: the study was prescreened with another score or pool size, or too few
            feasible configs exist.
    """
    settings = context.settings
    if settings.prescreen is None or settings.zero_cost is None:
        return stored_pool(study)
    emit = on_progress or (lambda event: None)
    pool = stored_pool(study)
    if pool is not None:
        if (pool.score, len(pool.params)) != (settings.zero_cost, settings.prescreen):
            raise ValueError(
                f"prescreen: study {study.study_name!r} was prescreened with --prescreen "
                f"{len(pool.params)} --zero-cost {pool.score}; use those, another --study, "
                "or --fresh"
            )
        emit(Prescreening(pool.score, len(pool.params), len(pool.params), 0.0, reused=True))
        return pool
    pool = score_pool(context, emit)
    study.set_user_attr(PRESCREEN_ATTR, pool.to_attr())
    return pool


def score_pool(context: TrialContext, emit: Callable[[Prescreening], None]) -> ScoredPool:
    """Draws ``settings.prescreen`` feasible configs and scores them with ``settings.zero_cost``.

    The seed (``--seed``, else 0) fixes the draws, the scoring batches and the initial weights.
    """
    from archbench.zerocost import needs_data, score_configs, scoring_batches

    settings, space = context.settings, context.space
    assert settings.prescreen is not None and settings.zero_cost is not None
    score, seed = settings.zero_cost, settings.seed or 0
    started = time.perf_counter()
    emit(Prescreening(score, settings.prescreen, 0, 0.0))
    candidates = feasible_pool(space, settings.budget, context.shape, settings.prescreen, seed)
    device = prescreen_device(settings)
    batches = (
        scoring_batches(context.trial_data().train, seed=seed, device=device)
        if needs_data([score])
        else []
    )

    def scored(index: int, _: dict[str, float]) -> None:
        emit(Prescreening(score, len(candidates), index + 1, time.perf_counter() - started))

    rows = score_configs(
        [decide(c.config, settings.budget).config for c in candidates],  # --fit-budget shrinks
        [score],
        batches=batches,
        seed=seed,
        device=device,
        on_scored=scored,
    )
    free_accelerator_memory()  # the first trial's process probes the card's free memory
    return ScoredPool(
        score=score,
        seed=seed,
        seconds=time.perf_counter() - started,
        params=[searched_params(space, c.params) for c in candidates],
        values=[row[score] for row in rows],
    )


def prescreen_device(settings: SearchSettings) -> torch.device:
    """Where the driver scores the pool: the search's device, but the CPU under Ray, whose
    driver owns no GPU (a CPU-only head node has none; on a GPU head node Ray would place
    trials on the card the driver holds)."""
    from archbench.hwprofile import resolve_device

    if settings.backend == "ray":
        return torch.device("cpu")
    return resolve_device(settings.device)


def searched_params(space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
    """The params a sampler suggests: fixed ones are the space's, not the trial's."""
    return {k: v for k, v in params.items() if not isinstance(space.params[k], FixedParam)}


def enqueue_top(study: optuna.Study, settings: SearchSettings, pool: ScoredPool | None) -> None:
    """Enqueues the best configs of ``pool``, each with its score attr (``prepare_study``).

    ``skip_if_exists`` leaves out a config the study holds already, so a resume, or a rerun
    after a crash between scoring and enqueueing, adds nothing twice.
    """
    if pool is None or settings.prescreen is None:
        return
    for params, attrs in pool.top(settings.prescreen_count):
        study.enqueue_trial(params, user_attrs=attrs, skip_if_exists=True)
