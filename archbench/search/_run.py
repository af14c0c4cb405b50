"""``archbench.search.run``: the one entry point of a search, whichever backend runs it.

It resolves the settings once (``TrialContext``), makes the backend, prepares the study, and
reports typed progress events to the caller (the CLI renders them; it imports neither Optuna nor
the backends). A poller reads the study about once a second while the backend runs trials, in
this process, in worker processes or on Ray; ``summarize`` reads back what the search left in
it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import optuna
from optuna.trial import FrozenTrial, TrialState

from archbench.evaluators import Evaluator
from archbench.search._context import TrialContext
from archbench.search._optuna_backend import OptunaBackend
from archbench.search._prescreen import Prescreening, stored_pool
from archbench.search._settings import SearchSettings
from archbench.search._study import prepare_study, study_name
from archbench.store import (
    BASELINE,
    DEFAULT_STORAGE,
    EPOCHS_TRAINED,
    FAILED,
    HAS_TRAINED,
    N_PARAMS,
    PRUNED,
    REJECTED,
    RUNNING,
    TRAINED,
    trial_status,
)

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
class SearchSummary:
    study: str
    storage: str
    trained: int
    rejected: int
    pruned: int
    failed: int
    seconds: float
    best: list[dict[str, Any]]
    prescreen: dict[str, Any] | None = None  # score, samples, seconds of a --prescreen pool

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 2)}


@dataclass(frozen=True)
class SearchFinished:
    summary: SearchSummary


class Backend(Protocol):
    """Runs the trials of a prepared study until it holds ``context.settings.n_trials``."""

    def optimize(self, study: optuna.Study, context: TrialContext) -> None: ...


ProgressEvent = SearchStarted | Prescreening | TrialCounts | SearchFinished
Progress = Callable[[ProgressEvent], None]


def run(
    settings: SearchSettings,
    *,
    progress: Progress | None = None,
    fresh: bool = False,
    verbose: bool = False,
    evaluator: Evaluator | None = None,
) -> SearchSummary:
    """Runs (or resumes) a search until its study holds ``settings.n_trials`` trained trials.

    Args:
        progress: receives ``SearchStarted``, ``Prescreening`` while a pool is scored,
            ``TrialCounts`` about once a second, then ``SearchFinished``.
        fresh: delete the study of this name first.
        verbose: keep Optuna's INFO log lines.
        evaluator: evaluates accepted configs instead of the search's own (Optuna backend, one
            worker); for tests and benchmarks.

    Raises:
        ValueError: bad settings, an unreadable storage, or Ray missing for ``backend="ray"``.
        SearchAborted: too many rejections in a row, or too many failures.
        KeyboardInterrupt: a Ray run ended by Ctrl+C; rerun the command to resume it.
    """
    if not verbose:
        quiet_optuna()
    start = time.perf_counter()
    context = TrialContext.of(settings)
    backend = make_backend(context, evaluator)
    emit = progress or (lambda event: None)
    emit(SearchStarted(study_name(settings), settings.backend, settings.n_trials))
    study = prepare_study(context, fresh=fresh, on_prescreen=emit)
    with watching(study, settings.n_trials, progress):  # no reads when nobody watches
        backend.optimize(study, context)
    summary = summarize(study, settings, time.perf_counter() - start)
    emit(SearchFinished(summary))
    return summary


def quiet_optuna() -> None:
    """Silences Optuna's log lines: a failed trial's traceback reads as a crash, while its
    reason is in its record (``archbench results --state failed``)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def make_backend(context: TrialContext, evaluator: Evaluator | None = None) -> Backend:
    """The backend of ``context.settings``, once it has checked them.

    Raises:
        ValueError: settings the backend cannot run, or Ray missing for ``backend="ray"``.
    """
    if context.settings.backend != "ray":
        return OptunaBackend(context.settings, evaluator)
    os.environ.setdefault(LOCAL_ONLY_ENV, "0")
    try:
        from archbench.search import _ray_backend
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "ray":
            raise
        raise ValueError(RAY_MISSING) from None
    return _ray_backend.RayBackend(context)


def counts(
    study: optuna.Study, n_trials: int, trials: list[FrozenTrial] | None = None
) -> TrialCounts:
    """The study's counts by status and its best trial, from one read (``trials``, if given)."""
    if trials is None:
        trials = study.get_trials(deepcopy=False)
    by_status = Counter(trial_status(t) for t in trials)
    ranked = _best_first(trials)
    best = ranked[0] if ranked else None
    return TrialCounts(
        study=study.study_name,
        n_trials=n_trials,
        trained=sum(by_status[status] for status in HAS_TRAINED),
        rejected=by_status[REJECTED],
        pruned=by_status[PRUNED],
        failed=by_status[FAILED],
        running=by_status[RUNNING],
        best=None
        if best is None
        else BestTrial(best.number, best.values[0], best.user_attrs.get(N_PARAMS)),
        epochs=study.user_attrs.get("epochs"),
        running_epochs=tuple(
            (trial.number, len(trial.intermediate_values))
            for trial in trials
            if trial.state == TrialState.RUNNING
        ),
    )


def summarize(
    study: optuna.Study, settings: SearchSettings, seconds: float, top: int = 5
) -> SearchSummary:
    trials = study.get_trials(deepcopy=False)
    now = counts(study, settings.n_trials, trials)
    best = [
        {
            "trial": t.number,
            "val_accuracy": t.values[0],
            "n_params": t.user_attrs.get(N_PARAMS),
            "epochs": t.user_attrs.get(EPOCHS_TRAINED),
            "baseline": t.user_attrs.get(BASELINE),
        }
        for t in _best_first(trials)[:top]
    ]
    pool = stored_pool(study)
    return SearchSummary(
        study=study.study_name,
        storage=settings.storage or DEFAULT_STORAGE,
        trained=now.trained,
        rejected=now.rejected,
        pruned=now.pruned,
        failed=now.failed,
        seconds=seconds,
        best=best,
        prescreen=(
            {"score": pool.score, "samples": len(pool.params), "seconds": pool.seconds}
            if pool is not None
            else None
        ),
    )


def _best_first(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The trials that trained to their last epoch, best accuracy first."""
    trained = [t for t in trials if t.state == TrialState.COMPLETE and trial_status(t) == TRAINED]
    return sorted(trained, key=lambda t: -t.values[0])


@contextlib.contextmanager
def watching(study: optuna.Study, n_trials: int, progress: Progress | None) -> Iterator[None]:
    """Emits the study's counts to ``progress`` about once a second until the block ends, and
    once more at the end."""
    if progress is None:
        yield
        return
    emit = progress
    done = threading.Event()

    def poll() -> None:
        with contextlib.suppress(Exception):  # a busy database: next second
            emit(counts(study, n_trials))

    def loop() -> None:
        while not done.wait(1.0):
            poll()

    thread = threading.Thread(target=loop, name="archbench-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        poll()
