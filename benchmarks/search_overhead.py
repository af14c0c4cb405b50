"""Per-trial overhead of an archbench search outside training, against bare Optuna.

Both loops run in this process against fresh SQLite files with the default sampler (TPE) and
the ``resnet`` space, report the same number of epochs per trial and do no training. They take
turns, one trial each, so that a machine whose load moves slows both alike. Ours
adds the budget decision, the trial record, the quota claim (one write and one read of the
study per accepted trial), the dead-owner sweep and the bookkeeping; the difference is our tax.
Prints the median seconds per trial at trials 1-50 and at the last 50, the ratio, the cost of
the budget decision itself (decode + exact count), and how often TPE proposed an over-budget
config early and late in the study.

    python benchmarks/search_overhead.py [--trials 500] [--epochs 3] [--sampler tpe]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import optuna

from archbench.budget import Budget
from archbench.evaluators import TrialOutcome
from archbench.models import count_params
from archbench.search import SearchSettings, TrialContext, prepare_study, suggest
from archbench.search._optuna_backend import run_worker
from archbench.search._samplers import make_pruner, make_sampler
from archbench.spaces import DataShape, get_space

SHAPE = DataShape(10, 1, 28)  # mnist5k


class NoTraining:
    """An evaluator that reports ``epochs`` fake epochs and trains nothing."""

    in_child_process = False

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def release(self) -> None:
        """Nothing was built."""

    def __call__(self, cfg, report, should_stop, on_profile=None):  # type: ignore[no-untyped-def]
        metrics = []
        for epoch in range(1, self.epochs + 1):
            row = {"epoch": epoch, "val_accuracy": 0.5 + 0.01 * epoch, "train_loss": 1.0}
            metrics.append(row)
            report(epoch, row)
            if should_stop():
                return TrialOutcome(metrics, 0.5, epoch, stopped_early=True)
        return TrialOutcome(metrics, 0.5 + 0.01 * self.epochs, self.epochs)


class BareOptuna:
    """Bare ``study.optimize``: the same sampler, pruner, space and reports, one trial a call."""

    def __init__(self, storage: str, epochs: int, sampler: str) -> None:
        self.space = get_space("resnet")
        self.epochs = epochs
        self.study = optuna.create_study(
            storage=storage,
            study_name="bare",
            direction="maximize",
            sampler=make_sampler(sampler, 0),
            pruner=make_pruner("median", 1),
        )
        self.times: list[float] = []

    def objective(self, trial: optuna.Trial) -> float:
        suggest(trial, self.space)
        for epoch in range(1, self.epochs + 1):
            trial.report(0.5 + 0.01 * epoch, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return 0.5 + 0.01 * self.epochs

    def one_trial(self) -> None:
        start = time.perf_counter()
        self.study.optimize(self.objective, n_trials=1)
        self.times.append(time.perf_counter() - start)


def timed_interleaved(
    folder: Path, trials: int, epochs: int, sampler: str
) -> tuple[list[float], list[float], list[str]]:
    """Seconds per trial of archbench's loop and of bare Optuna, one trial of each in turn.

    archbench's worker runs; after each of its trials (trained or rejected) the bare study runs
    one, outside archbench's timer. So both loops meet the same machine at the same moments, and
    a load that comes and goes shifts both alike. Stops after ``trials`` trials of each.
    """
    bare = BareOptuna(f"sqlite:///{folder}/bare.db", epochs, sampler)
    settings = SearchSettings(
        space="resnet",
        budget=Budget(max_params=5_000_000),
        n_trials=trials,  # trained trials; the callback stops first, at ``trials`` in all
        sampler=sampler,
        profile="none",
        storage=f"sqlite:///{folder}/ours.db",
        study="ours",
        seed=0,
        epochs=epochs,
        max_rejections=10**6,
    )
    context = TrialContext.of(settings)
    study = prepare_study(context)
    times: list[float] = []
    statuses: list[str] = []
    last = [time.perf_counter()]

    def tick(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        times.append(time.perf_counter() - last[0])
        statuses.append(str(trial.user_attrs.get("status")))
        bare.one_trial()
        if len(times) >= trials:
            study.stop()
        last[0] = time.perf_counter()

    run_worker(context, study, evaluator=NoTraining(epochs), on_trial=tick)
    return times, bare.times, statuses


class WriteCounter:
    """Counts the SQLite transactions that wrote, per database file: each is a commit to disk."""

    def __init__(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.count: Counter[str] = Counter()
        wrote: set[int] = set()

        @event.listens_for(Engine, "before_cursor_execute")
        def statement(conn, cursor, text, params, context, executemany):  # type: ignore[no-untyped-def]
            if not text.lstrip().upper().startswith("SELECT"):
                wrote.add(id(conn))

        @event.listens_for(Engine, "commit")
        def commit(conn):  # type: ignore[no-untyped-def]
            if id(conn) in wrote:
                wrote.discard(id(conn))
                self.count[Path(str(conn.engine.url.database)).name] += 1


def decision_microseconds(samples: int = 2000) -> float:
    space = get_space("resnet")
    points = [space.sample(seed) for seed in range(samples)]
    start = time.perf_counter()
    for params in points:
        count_params(space.to_config(params, SHAPE))
    return (time.perf_counter() - start) / samples * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sampler", default="tpe")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    window = min(50, args.trials // 2)
    writes = WriteCounter()
    with tempfile.TemporaryDirectory() as folder:
        ours, bare, statuses = timed_interleaved(
            Path(folder), args.trials, args.epochs, args.sampler
        )
    print(f"{args.sampler} on SQLite, resnet space, {args.epochs} reported epochs, no training")
    print(
        f"{'window':<14} {'bare optuna ms':>15} {'archbench ms':>13} {'ratio':>7}"
        f" {'mean: bare':>11} {'archbench':>10} {'ratio':>7}"
    )
    for label, part in (("first", slice(0, window)), ("last", slice(-window, None))):
        medians = [statistics.median(times[part]) * 1e3 for times in (bare, ours)]
        means = [statistics.fmean(times[part]) * 1e3 for times in (bare, ours)]
        print(
            f"{label + ' ' + str(window):<14} {medians[0]:>15.1f} {medians[1]:>13.1f}"
            f" {medians[1] / medians[0]:>6.2f}x {means[0]:>11.1f} {means[1]:>10.1f}"
            f" {means[1] / means[0]:>6.2f}x"
        )
    print(
        "write transactions per trial: "
        f"bare {writes.count['bare.db'] / len(bare):.1f}, "
        f"archbench {writes.count['ours.db'] / len(ours):.1f}"
    )
    print(f"budget decision (decode + exact count): {decision_microseconds():.1f} us per config")
    rejected = [s == "rejected" for s in statuses]
    early, late = rejected[:window], rejected[-window:]
    print(
        f"over-budget proposals ({args.sampler}, 5M cap): "
        f"first {window}: {sum(early) / len(early):.0%}, last {window}: {sum(late) / len(late):.0%}"
    )


if __name__ == "__main__":
    main()
