"""Search quality on NAS-Bench-201's table: every sampler against the exact random baseline.

Each search looks its configs up in the table that ``archbench search --benchmark nb201`` uses
(the 200-epoch test accuracy of the 15,625 cells), so a sampler is judged on real CIFAR
trainings in seconds. The samplers are built by ``make_sampler``, the CLI's own construction,
and propose through the CLI's ``suggest`` over the built-in ``nb201`` space; the study lives in
memory and skips the trial record, so only the sampler's decisions are measured. Two plain
Optuna TPE samplers run beside them as references.

For every data set, sampler and trial count it prints the mean best test accuracy over the
seeds with its 95% CI (Student t), the regret to the table's optimum, and the exact expected
best of random search, E[max of k draws with replacement], computed from the sorted table. A
sampler's run of ``max(--trials)`` trials gives its best at each smaller count too (the first k
proposals do not depend on how many follow). It writes the table as Markdown and a regret-curve
PNG.

    python benchmarks/search_quality_nb201.py [--seeds 20] [--trials 20,50,100]
        [--datasets cifar10,cifar100,imagenet16-120] [--samplers random,tpe,rea,qmc,gp,...]
        [--processes 2] [--markdown FILE] [--plot FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
from scipy import stats

from archbench.search import make_sampler, suggest
from archbench.spaces import DataShape, get_space
from archbench.tables import NB201_DATASETS, nb201_accuracies

REFERENCES: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "optuna-tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "optuna-tpe-mv5": lambda seed: optuna.samplers.TPESampler(
        seed=seed, multivariate=True, n_startup_trials=5
    ),
}
RESULTS = Path("docs/results")
ARCHBENCH = ("random", "tpe", "rea", "qmc", "gp")  # nsga2 needs two objectives


def sampler_for(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name in REFERENCES:
        return REFERENCES[name](seed)
    return make_sampler(name, seed)


def best_so_far(job: tuple[str, str, int, int]) -> tuple[str, str, int, list[float], float]:
    """One search: the best accuracy (%) after each trial, and its seconds."""
    dataset, sampler, seed, trials = job
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a spawned process starts at INFO
    table = nb201_accuracies(dataset)
    space = get_space("nb201")
    shape = DataShape(*NB201_DATASETS[dataset])

    def objective(trial: optuna.Trial) -> float:
        cfg = space.to_config(suggest(trial, space), shape)
        return table[cfg.arch]  # type: ignore[attr-defined]

    started = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=sampler_for(sampler, seed))
    study.optimize(objective, n_trials=trials)
    values = np.maximum.accumulate([t.value for t in study.trials])
    return dataset, sampler, seed, [float(v) for v in values], time.perf_counter() - started


def expected_random_best(values: np.ndarray, k: int) -> float:
    """E[max of k draws with replacement] from ``values``, exactly: sum of v_(i) times
    P(max = v_(i)) = (i/n)^k - ((i-1)/n)^k over the sorted values."""
    ordered = np.sort(values)
    n = len(ordered)
    cdf = (np.arange(1, n + 1) / n) ** k
    return float(np.sum(ordered * np.diff(np.concatenate([[0.0], cdf]))))


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t interval."""
    mean = float(np.mean(values))
    half = float(stats.t.ppf(0.975, len(values) - 1) * stats.sem(values)) if len(values) > 1 else 0
    return mean, half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", default="20,50,100")
    parser.add_argument("--datasets", default=",".join(NB201_DATASETS))
    parser.add_argument("--samplers", default=",".join([*ARCHBENCH, *REFERENCES]))
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("runs/search_quality_nb201.jsonl"))
    parser.add_argument("--markdown", type=Path, default=RESULTS / "search_quality_nb201.md")
    parser.add_argument("--plot", type=Path, default=RESULTS / "search_quality_nb201.png")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    counts = [int(k) for k in args.trials.split(",")]
    datasets = args.datasets.split(",")
    samplers = args.samplers.split(",")
    seeds = range(args.seeds)
    done = _cached(args.cache, max(counts))
    jobs = [
        (d, s, seed, max(counts))
        for d in datasets
        for seed in seeds
        for s in samplers
        if (d, s, seed) not in done
    ]
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    with args.cache.open("a") as cache, context.Pool(args.processes) as pool:
        for dataset, sampler, seed, curve, took in pool.imap_unordered(best_so_far, jobs):
            done[(dataset, sampler, seed)] = (curve, took)
            row = {"dataset": dataset, "sampler": sampler, "seed": seed}
            cache.write(json.dumps({**row, "curve": curve, "seconds": took}) + "\n")
            cache.flush()
    curves: dict[tuple[str, str], list[list[float]]] = {}
    seconds: dict[tuple[str, str], float] = {}
    for (dataset, sampler, seed), (curve, took) in done.items():
        if dataset in datasets and sampler in samplers and seed in seeds:
            curves.setdefault((dataset, sampler), []).append(curve)
            seconds[(dataset, sampler)] = seconds.get((dataset, sampler), 0.0) + took
    lines = _table(datasets, samplers, counts, curves, seconds)
    print("\n".join(lines))
    _plot(datasets, samplers, curves, args.plot)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text("\n".join([*_header(args), *lines, ""]))


def _cached(path: Path, trials: int) -> dict[tuple[str, str, int], tuple[list[float], float]]:
    """The searches of earlier runs with at least ``trials`` trials, cut to ``trials``."""
    done: dict[tuple[str, str, int], tuple[list[float], float]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if len(row["curve"]) >= trials:
                key = (row["dataset"], row["sampler"], row["seed"])
                done[key] = (row["curve"][:trials], row["seconds"])
    return done


def _table(
    datasets: list[str],
    samplers: list[str],
    counts: list[int],
    curves: dict[tuple[str, str], list[list[float]]],
    seconds: dict[tuple[str, str], float],
) -> list[str]:
    lines = []
    for dataset in datasets:
        table = np.array(list(nb201_accuracies(dataset).values()))
        optimum = float(table.max())
        exact = "  ".join(f"{k}: {expected_random_best(table, k):.2f}" for k in counts)
        lines += [
            f"### {dataset} (optimum {optimum:.2f}; exact random expectation {exact})",
            "",
            "| sampler | seeds | "
            + " | ".join(f"{k} trials: best (95% CI), regret" for k in counts)
            + " | s/search |",
            "|---|---|" + "---|" * (len(counts) + 1),
        ]
        for sampler in samplers:
            runs = curves.get((dataset, sampler))
            if not runs:
                continue
            cells = []
            for k in counts:
                mean, half = mean_ci([run[k - 1] for run in runs])
                cells.append(f"{mean:.2f} +- {half:.2f}, {optimum - mean:.2f}")
            took = seconds[(dataset, sampler)] / len(runs)
            lines.append(f"| {sampler} | {len(runs)} | " + " | ".join(cells) + f" | {took:.1f} |")
        lines.append("")
    return lines


def _header(args: argparse.Namespace) -> list[str]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return [
        "# Search quality on NAS-Bench-201's table",
        "",
        f"- Date: {datetime.date.today()}, commit {commit}, {platform.machine()} CPU "
        f"({multiprocessing.cpu_count()} cores, no GPU), Python {sys.version.split()[0]}, "
        f"Optuna {optuna.__version__}.",
        f"- Command: `python {' '.join(sys.argv)}`",
        f"- Load average at the end: {os.getloadavg()[0]:.1f} (the machine is shared: it "
        "inflates s/search, not the accuracies).",
        f"- Up to {args.seeds} seeds (0..{args.seeds - 1}) per sampler (column seeds); the "
        "200-epoch test accuracy (%) of the table is the objective.",
        "- `tpe`, `rea`, `random`, `qmc` and `gp` are archbench's samplers as "
        "`archbench search --sampler NAME` builds them; `optuna-tpe` is plain `TPESampler()` "
        "and `optuna-tpe-mv5` `TPESampler(multivariate=True, n_startup_trials=5)`.",
        "- Best: mean best test accuracy of the searches, with the half-width of its 95% CI; "
        "regret: the table's optimum minus that mean. s/search: seconds of one search of the "
        "largest trial count.",
        "",
    ]


def _plot(
    datasets: list[str],
    samplers: list[str],
    curves: dict[tuple[str, str], list[list[float]]],
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        optimum = max(nb201_accuracies(dataset).values())
        for sampler in samplers:
            if (dataset, sampler) not in curves:
                continue
            regret = optimum - np.mean(curves[(dataset, sampler)], axis=0)
            axis.plot(np.arange(1, len(regret) + 1), regret, label=sampler)
        axis.set_yscale("log")
        axis.set_title(f"NAS-Bench-201 {dataset}")
        axis.set_xlabel("trials")
        axis.set_ylabel("regret to the optimum (accuracy points)")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
