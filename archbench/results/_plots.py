"""PNG plots of a study: trade-offs, the budget, the search's progress and the proxy curves.

Our own figures are drawn with matplotlib's object API and saved through its Agg renderer, never
through ``pyplot``, so they need no display and leave the caller's backend alone (as in
``archbench.train``). The optimization history and the parameter importances are Optuna's own
(``optuna.visualization.matplotlib``), which knows about infeasible trials and computes PED-ANOVA
importances (Watanabe et al., 2023, arXiv:2304.10255); Optuna draws them through ``pyplot``
with its own style, so they run inside ``rc_context`` and their figures are closed after saving.

A plot that has nothing to show raises ``NothingToPlot`` with the reason, which the report prints
in place of the figure.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import optuna
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from archbench._units import format_count
from archbench.results._trials import TrialRow, rejection_kind
from archbench.store import PRUNED, REJECTED, STATUSES, TRAINED, trial_status

if TYPE_CHECKING:
    from matplotlib.axes import Axes

STATUS_COLORS = {
    "trained": "tab:blue",
    "pruned": "tab:orange",
    "rejected": "tab:red",
    "failed": "black",
    "running": "tab:gray",
}
# Rejections by the budget they broke (results._trials.rejection_kind), in legend order.
REJECTION_COLORS = {
    "params": "tab:red",
    "FLOPs": "tab:purple",
    "min batch": "tab:brown",
    "latency": "tab:pink",
    "other": "tab:olive",
}
MIB = 2**20
MIN_IMPORTANCE_TRIALS = 10
COUNT_FORMATTER = FuncFormatter(lambda value, _: format_count(value))


class NothingToPlot(ValueError):
    """The study holds no data for this plot; the message says what is missing."""


def pareto_front(points: Sequence[tuple[float, float]], *, x_larger_is_better: bool) -> list[int]:
    """Indices of the points no other point beats on both axes (y, the accuracy, is maximized).

    Returns:
        The indices of the front, ordered from the best ``x`` to the worst.
    """
    order = sorted(
        range(len(points)),
        key=lambda i: (-points[i][0] if x_larger_is_better else points[i][0], -points[i][1]),
    )
    front: list[int] = []
    best_y = -math.inf
    for index in order:
        if points[index][1] > best_y:
            front.append(index)
            best_y = points[index][1]
    return front


def plot_accuracy_vs(
    rows: Sequence[TrialRow],
    path: str | Path,
    *,
    field: str,
    label: str,
    larger_is_better: bool,
    budget: int | None = None,
) -> Path:
    """Validation accuracy against one cost, with the Pareto front of the trained trials.

    Trained trials are filled, pruned ones hollow (their accuracy comes from fewer epochs, so
    they stay off the front). A noisy timing (``TrialRow.noisy``) is crossed out and counted in
    the legend, and a front that goes through one is dashed and says how many. For
    parameters, the budget is a vertical line and the rejected configs are ticks along the
    bottom, coloured by the budget that rejected them (a FLOPs cap rejects configs under the
    parameter budget too): they never trained, but where they fall says how much of the space
    each budget cut off.

    Args:
        field: the ``TrialRow`` attribute on the x axis.
        label: the x axis label.
        larger_is_better: the direction of the cost (throughput: larger is better).
        budget: the parameter budget, drawn when given.

    Raises:
        NothingToPlot: when no trial has both an accuracy and this figure.
    """
    measured = [r for r in rows if r.has_accuracy and getattr(r, field) is not None]
    if not measured:
        raise NothingToPlot(f"no trained trial has {label} (profile the search to get it)")
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    for status in (TRAINED, PRUNED):
        group = [r for r in measured if r.status == status]
        if group:
            axes.scatter(
                [_figure(r, field) for r in group],
                [_figure(r, "val_accuracy") for r in group],
                label=f"{status} ({len(group)})",
                edgecolors=STATUS_COLORS[status],
                facecolors=STATUS_COLORS[status] if status == TRAINED else "none",
                s=30,
                zorder=3,
            )
    noisy = [r for r in measured if field in r.noisy]
    if noisy:  # a noisy timing is never drawn as fact: crossed out and counted in the legend
        axes.scatter(
            [_figure(r, field) for r in noisy],
            [_figure(r, "val_accuracy") for r in noisy],
            marker="x",
            color="black",
            s=40,
            label=f"noisy timing ({len(noisy)})",
            zorder=4,
        )
    _draw_front(axes, [r for r in measured if r.status == TRAINED], field, larger_is_better)
    for row in measured:
        if row.baseline:
            axes.annotate(
                row.baseline, (_figure(row, field), _figure(row, "val_accuracy")), fontsize=7
            )
    values = [_figure(r, field) for r in rows if getattr(r, field) is not None]
    if field == "n_params":
        _draw_rejections(axes, rows)
        if budget is not None:
            axes.axvline(
                budget, color="tab:red", linestyle="--", label=f"budget {format_count(budget)}"
            )
            values.append(float(budget))
    if min(values) > 0 and max(values) / min(values) > 20:
        axes.set_xscale("log")
    if field == "n_params":
        axes.xaxis.set_major_formatter(COUNT_FORMATTER)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel(label)
    axes.set_ylabel("validation accuracy (proxy)")
    axes.grid(alpha=0.3)
    _legend_outside(axes)
    return _save(figure, path)


def _draw_front(axes: Axes, trained: list[TrialRow], field: str, larger_is_better: bool) -> None:
    """The Pareto front of the trained trials: dashed, and saying how many, through noisy
    timings."""
    points = [(_figure(r, field), _figure(r, "val_accuracy")) for r in trained]
    front = [trained[i] for i in pareto_front(points, x_larger_is_better=larger_is_better)]
    if front:
        noisy_on_front = sum(field in r.noisy for r in front)
        axes.plot(
            [_figure(r, field) for r in front],
            [_figure(r, "val_accuracy") for r in front],
            drawstyle="steps-post",  # the front is ordered from the best cost to the worst
            color="tab:green",
            linestyle="--" if noisy_on_front else "-",
            label="Pareto front"
            + (f" ({noisy_on_front} of {len(front)} points noisy)" if noisy_on_front else ""),
            zorder=2,
        )


def _draw_rejections(axes: Axes, rows: Sequence[TrialRow]) -> None:
    """The rejected configs' parameter counts as ticks along the bottom, by rejecting budget."""
    for kind, group in _rejections_by_kind(rows).items():
        axes.plot(
            [_figure(r, "n_params") for r in group],
            [0.02] * len(group),
            "|",
            color=REJECTION_COLORS[kind],
            markersize=12,
            transform=axes.get_xaxis_transform(),
            label=f"rejected: {kind} ({len(group)}, never trained)",
        )


def _figure(row: TrialRow, field: str) -> float:
    """A figure the caller checked is present, as a float for matplotlib."""
    return float(getattr(row, field))


def plot_params_by_status(rows: Sequence[TrialRow], path: str | Path, budget: int | None) -> Path:
    """Histogram of parameter counts, stacked by status (rejections by the budget they broke),
    against the parameter budget.

    Shows which part of the space each budget rejected and where the trained configs sit.

    Raises:
        NothingToPlot: when no trial has a parameter count.
    """
    counted = [r for r in rows if r.n_params is not None]
    if not counted:
        raise NothingToPlot("no trial has a parameter count")
    low = min(r.n_params or 1 for r in counted)
    high = max([r.n_params or 1 for r in counted] + ([budget] if budget else []))
    bins = _log_bins(max(1, low), max(high, low + 1), 20)
    groups: dict[str, tuple[list[TrialRow], str]] = {}
    for status in STATUSES:
        if status == REJECTED:
            for kind, group in _rejections_by_kind(counted).items():
                groups[f"rejected: {kind}"] = (group, REJECTION_COLORS[kind])
        elif any(r.status == status for r in counted):
            groups[status] = ([r for r in counted if r.status == status], STATUS_COLORS[status])
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    axes.hist(
        [[_figure(r, "n_params") for r in group] for group, _ in groups.values()],
        bins=bins,
        stacked=True,
        color=[color for _, color in groups.values()],
        label=[f"{name} ({len(group)})" for name, (group, _) in groups.items()],
    )
    if budget is not None:
        axes.axvline(
            budget, color="tab:red", linestyle="--", label=f"budget {format_count(budget)}"
        )
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(COUNT_FORMATTER)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("parameters")
    axes.set_ylabel("configs")
    axes.grid(alpha=0.3)
    _legend_outside(axes)
    return _save(figure, path)


def _rejections_by_kind(rows: Sequence[TrialRow]) -> dict[str, list[TrialRow]]:
    """The rejected rows with a parameter count, by the budget they broke."""
    groups: dict[str, list[TrialRow]] = {}
    for row in rows:
        if row.status == REJECTED and row.n_params is not None:
            groups.setdefault(rejection_kind(row.reason), []).append(row)
    return {kind: groups[kind] for kind in REJECTION_COLORS if kind in groups}


def _legend_outside(axes: Axes, *, below: bool = False) -> None:
    """A legend beside (or below) the axes, where it covers no data point."""
    if below:
        axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    else:
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))


def _log_bins(low: float, high: float, count: int) -> list[float]:
    step = (math.log10(high * 1.05) - math.log10(low * 0.95)) / count
    return [10 ** (math.log10(low * 0.95) + i * step) for i in range(count + 1)]


def plot_epoch_curves(rows: Sequence[TrialRow], path: str | Path) -> Path:
    """Validation accuracy per proxy epoch of the given (top) trials.

    Raises:
        NothingToPlot: when none of them stored per-epoch metrics.
    """
    curves = [r for r in rows if any("val_accuracy" in m for m in r.metrics)]
    if not curves:
        raise NothingToPlot("no trial stored per-epoch metrics")
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    for row in curves:
        epochs = [m for m in row.metrics if "val_accuracy" in m]
        axes.plot(
            [m.get("epoch", i + 1) for i, m in enumerate(epochs)],
            [m["val_accuracy"] for m in epochs],
            "-o",
            ms=3,
            label=f"trial {row.number} ({format_count(row.n_params or 0)} params)",
        )
    last = max(m.get("epoch", i + 1) for r in curves for i, m in enumerate(r.metrics))
    axes.set_xlim(0.5, last + 0.5)  # whole epochs, even for a one-epoch proxy
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation accuracy")
    axes.grid(alpha=0.3)
    _legend_outside(axes)
    return _save(figure, path)


SWEEP_THROUGHPUT = ("train_images_per_second", "infer_images_per_second")
SWEEP_MEMORY = ("peak_train_memory_bytes", "predicted_train_memory_bytes")


def plot_batch_sweep(rows: Sequence[TrialRow], path: str | Path) -> Path:
    """Throughput and memory against batch size, for trials whose profile holds a sweep.

    A sweep is stored as ``profile["sweep"]`` in the layout of ``hwprofile.SweepResult``:
    ``{"points": [{"batch_size": ..., "train_images_per_second": ..., ...}], "env": {...}}``.
    Several trials share one figure, which ``hwprofile.plot_sweep`` (one sweep) does not do.

    Raises:
        NothingToPlot: when no profile holds a sweep.
    """
    swept = [(row, _sweep_points(row)) for row in rows]
    swept = [(row, points) for row, points in swept if points]
    if not swept:
        raise NothingToPlot(
            "no trial's stored profile holds a batch-size sweep; `archbench profile CONFIG "
            "--sweep 16,32,64` on an exported config draws its own sweep PNG, outside the study"
        )
    figure = Figure(figsize=(10, 4), layout="constrained")
    speed, memory = figure.subplots(1, 2)
    for row, points in swept:
        batches = [p["batch_size"] for p in points]
        for axes, names, scale in ((speed, SWEEP_THROUGHPUT, 1.0), (memory, SWEEP_MEMORY, MIB)):
            for name in names:
                pairs = [(b, p[name]) for b, p in zip(batches, points) if p.get(name) is not None]
                if pairs:
                    axes.plot(
                        [b for b, _ in pairs],
                        [value / scale for _, value in pairs],
                        "-o",
                        ms=3,
                        label=f"trial {row.number} {name.replace('_', ' ')}",
                    )
    for axes, ylabel in ((speed, "images/s"), (memory, "MiB")):
        axes.set_xscale("log", base=2)
        axes.set_xlabel("batch size")
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            _legend_outside(axes, below=True)
    return _save(figure, path)


def _sweep_points(row: TrialRow) -> list[dict]:
    sweep = (row.profile or {}).get("sweep")
    points = sweep.get("points") if isinstance(sweep, dict) else None
    if not isinstance(points, list):
        return []
    return sorted((p for p in points if "batch_size" in p), key=lambda p: p["batch_size"])


def _is_trained(trial: optuna.trial.FrozenTrial) -> bool:
    return trial_status(trial) == TRAINED and trial.values is not None


def plot_optimization_history(study: optuna.Study, path: str | Path) -> Path:
    """Optuna's optimization history of the accuracy; infeasible (rejected) trials in gray.

    Raises:
        NothingToPlot: when no trial completed.
    """
    from optuna.visualization.matplotlib import plot_optimization_history as optuna_plot

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise NothingToPlot("no trial completed yet")
    if len(study.directions) == 1:
        return _save_optuna(lambda: optuna_plot(study), path)
    return _save_optuna(
        lambda: optuna_plot(study, target=lambda t: t.values[0], target_name="val accuracy"),
        path,
    )


def plot_param_importances(study: optuna.Study, path: str | Path) -> Path:
    """Optuna's parameter importances (PED-ANOVA) for reaching a high validation accuracy.

    Only trained trials count: a rejected trial stored as complete (for GP and NSGA-II
    samplers) gets a NaN target, which Optuna leaves out. PED-ANOVA ranks low targets as good,
    hence the negated accuracy.

    Raises:
        NothingToPlot: with fewer than ``MIN_IMPORTANCE_TRIALS`` trained trials with sampled
            params: with 4, the importances ranked the noise of 4 proxy accuracies.
    """
    from optuna.visualization.matplotlib import plot_param_importances as optuna_plot

    trained = [t for t in study.get_trials(deepcopy=False) if _is_trained(t) and t.params]
    if len(trained) < MIN_IMPORTANCE_TRIALS:
        raise NothingToPlot(
            f"parameter importances need at least {MIN_IMPORTANCE_TRIALS} trained trials with "
            f"sampled params to tell the knobs apart from noise; this study has {len(trained)}"
        )

    def target(trial: optuna.trial.FrozenTrial) -> float:
        return -trial.values[0] if _is_trained(trial) else math.nan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Optuna's notes on small samples
        importances = optuna.importance.get_param_importances(study, target=target)
    if len(set(importances.values())) <= 1:
        raise NothingToPlot(
            f"Optuna could not tell the params apart over {len(trained)} trained trials "
            f"({len({t.values[0] for t in trained})} distinct accuracies); all importances "
            "would be equal"
        )
    return _save_optuna(lambda: optuna_plot(study, target=target, target_name="val accuracy"), path)


def _save_optuna(draw: Callable[[], Axes], path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    with warnings.catch_warnings(), plt.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", UserWarning)  # Optuna's notes on small samples
        figure = cast(Figure, draw().figure)
        try:
            figure.set_size_inches(8, 4.5)
            figure.tight_layout()
            return _save(figure, path)
        finally:
            plt.close(figure)


def _save(figure: Figure, path: str | Path) -> Path:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(file, dpi=120)
    return file
