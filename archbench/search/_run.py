"""``archbench.search.run``: the one entry point of a search, whichever backend runs it.

It picks the backend, and reports typed progress events to the caller (the CLI renders them;
it imports neither Optuna nor the backends). A poller reads the study about once a second
while trials run, in this process or in worker processes or on Ray.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from archbench.search._optuna_backend import run_search
from archbench.search._prescreen import Prescreening
from archbench.search._record import (
    FAILED,
    N_PARAMS,
    PRUNED,
    REJECTED,
    RUNNING,
    STATUS,
    TRAINED,
    counts_by_status,
)
from archbench.search._settings import SearchSettings
from archbench.search._status import HAS_TRAINED
from archbench.search._study import SearchSummary, default_study_name
from archbench.search._trial import Runner

RAY_MISSING = 'backend: the ray backend needs Ray Tune: pip install "archbench[ray]"'
# A runtime of our own serves this machine only: Ray then binds to loopback instead of the
# first network interface (read when ray is imported, so set it first).
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@dataclass(frozen=True)
class SearchStarted:
    study: str
    backend: str
    n_trials: int


@dataclass(frozen=True)
class BestTrial:
    number: int
    val_accuracy: float
    n_params: int | None


@dataclass(frozen=True)
class TrialCounts:
    """The study as it stands: every process and machine together."""

    study: str
    n_trials: int
    trained: int  # trained to the end or pruned after training
    rejected: int
    pruned: int
    failed: int
    running: int
    best: BestTrial | None
    epochs: int | None = None  # proxy epochs per trial, as the study stores them
    running_epochs: tuple[tuple[int, int], ...] = ()  # (trial, epochs reported) while training


@dataclass(frozen=True)
class SearchFinished:
    summary: SearchSummary


ProgressEvent = SearchStarted | Prescreening | TrialCounts | SearchFinished
Progress = Callable[[ProgressEvent], None]


def run(
    settings: SearchSettings,
    *,
    progress: Progress | None = None,
    fresh: bool = False,
    verbose: bool = False,
    runner: Runner | None = None,
) -> SearchSummary:
    """Runs (or resumes) a search until its study holds ``settings.n_trials`` trained trials.

    Args:
        progress: receives a ``SearchStarted``, then with ``--prescreen`` ``Prescreening`` as
            configs are scored, then ``TrialCounts`` about once a second, then
            ``SearchFinished``.
        fresh: delete the study of this name first.
        verbose: keep Optuna's INFO log lines.
        runner: trains accepted configs instead of the default trial runner (Optuna backend,
            one worker); for tests and benchmarks.

    Raises:
        ValueError: bad settings, an unreadable storage, or Ray missing for ``backend="ray"``.
        SearchAborted: too many rejections in a row, or too many failures.
    """
    if settings.backend not in ("optuna", "ray"):
        raise ValueError(f"backend: {settings.backend!r} is unknown; choose optuna or ray")
    if not verbose:
        quiet_optuna()
    name = settings.study or default_study_name(settings)
    emit = progress or (lambda event: None)
    emit(SearchStarted(name, settings.backend, settings.n_trials))
    with _poller(name, settings.n_trials, emit) as watch:
        if settings.backend == "ray":
            summary = _ray_backend()(settings, fresh=fresh, watch=watch, on_prescreen=emit)
        else:
            summary = run_search(
                settings, fresh=fresh, watch=watch, runner=runner, on_prescreen=emit
            )
    emit(SearchFinished(summary))
    return summary


def quiet_optuna() -> None:
    """Silences Optuna's log lines, its warnings included.

    Each failed trial would otherwise print Optuna's traceback, which reads as a crash; the
    reason is in the trial's record (``archbench results --state failed``) and the live view
    counts the failures. ``--verbose`` keeps Optuna's lines.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _ray_backend() -> Callable[..., SearchSummary]:
    os.environ.setdefault(LOCAL_ONLY_ENV, "0")
    try:
        from archbench.search import _ray_backend
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "ray":
            raise
        raise ValueError(RAY_MISSING) from None
    return _ray_backend.run_ray_search


def counts(study: optuna.Study, n_trials: int) -> TrialCounts:
    trials = study.get_trials(deepcopy=False)
    by_status = counts_by_status(study)
    best: BestTrial | None = None
    for trial in trials:
        if trial.state != TrialState.COMPLETE or trial.user_attrs.get(STATUS) != TRAINED:
            continue
        if trial.values and (best is None or trial.values[0] > best.val_accuracy):
            best = BestTrial(trial.number, trial.values[0], trial.user_attrs.get(N_PARAMS))
    return TrialCounts(
        study=study.study_name,
        n_trials=n_trials,
        trained=sum(by_status[status] for status in HAS_TRAINED),
        rejected=by_status[REJECTED],
        pruned=by_status[PRUNED],
        failed=by_status[FAILED],
        running=by_status[RUNNING],
        best=best,
        epochs=study.user_attrs.get("epochs"),
        running_epochs=tuple(
            (trial.number, len(trial.intermediate_values))
            for trial in trials
            if trial.state == TrialState.RUNNING
        ),
    )


@contextlib.contextmanager
def _poller(name: str, n_trials: int, emit: Progress) -> Iterator[Callable[[optuna.Study], None]]:
    """Yields ``watch(study)``; once called, the study's counts are emitted about once a second
    until the block ends, and once more at the end."""
    done = threading.Event()
    watched: list[optuna.Study] = []

    def poll() -> None:
        if watched:
            with contextlib.suppress(Exception):  # a busy database: next second
                emit(counts(watched[0], n_trials))

    def loop() -> None:
        while not done.wait(1.0):
            poll()

    thread = threading.Thread(target=loop, name="archbench-progress", daemon=True)
    thread.start()
    try:
        yield watched.append
    finally:
        done.set()
        thread.join()
        poll()
