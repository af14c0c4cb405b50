"""The fidelity report: the JSON document, the markdown file and a scatter plot per ranking.

The document is the contract of ``archbench fidelity --json``: ``configs`` holds every value,
and every figure of ``correlations`` is ``compare(cheap, reference)`` over those values
(``_stats.py``), so a reader can recompute each one.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from archbench._units import format_count
from archbench.fidelity._plan import FidelitySettings
from archbench.fidelity._run import FidelityRun
from archbench.fidelity._stats import BOOTSTRAP_RESAMPLES, TOP_FRACTION, compare, kendall_tau


def reference_accuracy(values: list[float | None]) -> float | None:
    """The mean over the reference seeds that trained; None when none did."""
    trained = [v for v in values if v is not None]
    return sum(trained) / len(trained) if trained else None


def rankings(run: FidelityRun) -> list[str]:
    """The cheap rankings, proxies first, then the zero-cost scores (params and flops first)."""
    proxies = [label for label in run.accuracies if label not in run.references]
    return [*proxies, *run.scores]


def document(run: FidelityRun) -> dict[str, Any]:
    """The ``--json`` document: ``configs``, ``correlations`` and ``reference_noise``."""
    configs: list[dict[str, Any]] = []
    for index, config in enumerate(run.configs):
        per_seed = [run.accuracies[label][index] for label in run.references]
        cheap = {
            name: (run.scores[name] if name in run.scores else run.accuracies[name])[index]
            for name in rankings(run)
        }
        configs.append(
            {
                "pool_index": index,
                "trial_config": config.to_dict(),
                "n_params": run.n_params[index],
                "reference_accuracy": reference_accuracy(per_seed),
                "reference_accuracies": per_seed,
                "proxies": {name: _finite(value) for name, value in cheap.items()},
            }
        )
    reference = [c["reference_accuracy"] for c in configs]
    correlations = {}
    for name in rankings(run):
        fit = compare([c["proxies"][name] for c in configs], reference, seed=run.settings.seed)
        correlations[name] = None if fit is None else fit.to_dict()
    return {
        "configs": configs,
        "correlations": correlations,
        "reference_noise": reference_noise(run),
    }


def reference_noise(run: FidelityRun) -> dict[str, Any] | None:
    """Kendall tau between reference seeds (the mean over pairs): the ceiling on any ranking."""
    if len(run.references) < 2:
        return None
    taus = [
        noise_tau(run.accuracies[first], run.accuracies[second])
        for i, first in enumerate(run.references)
        for second in run.references[i + 1 :]
    ]
    defined = [tau for tau in taus if tau is not None]
    return {"kendall_tau": float(np.mean(defined)) if defined else None, "pairs": len(taus)}


def _reference_line(settings: FidelitySettings) -> str:
    if settings.benchmark is not None:
        return (
            f"Reference: the `{settings.benchmark}` table's {settings.reference_epochs}-epoch "
            f"test accuracy on `{settings.dataset}` (nothing trained). No proxies."
        )
    return (
        f"Reference: {settings.reference_epochs} epochs on the full training split, mean over "
        f"{settings.reference_seeds} training seed(s). Proxies: "
        f"{', '.join(f'{e} epoch(s)' for e in sorted(settings.proxy_epochs))} on "
        f"{settings.proxy_subset:.0%} of it."
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def format_interval(interval: Any) -> str:
    return "-" if interval is None else f"[{interval[0]:+.2f}, {interval[1]:+.2f}]"


def table_rows(doc: dict[str, Any]) -> list[list[str]]:
    """One row per ranking: name, n, tau, its 95% interval, Spearman, top-k recall, top pick."""
    rows = []
    for name, fit in doc["correlations"].items():
        if fit is None:
            rows.append([name, "-", "-", "-", "-", "-", "-"])
            continue
        rows.append(
            [
                name,
                str(fit["n"]),
                _signed(fit["kendall_tau"]),
                format_interval(fit["ci95"]),
                _signed(fit["spearman"]),
                f"{fit['top_k_recall']:.0%} of {fit['top_k']}",
                str(fit["top_pick_reference_rank"]),
            ]
        )
    return rows


TABLE_HEADER = [
    "ranking",
    "n",
    "Kendall tau",
    "tau 95% CI",
    "Spearman",
    f"top-{TOP_FRACTION:.0%} recall",
    "reference rank of its pick",
]


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def plot_name(ranking: str) -> str:
    return "fidelity-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", ranking) + ".png"


def write_plots(doc: dict[str, Any], out: Path) -> list[Path]:
    """One scatter per ranking: the reference accuracy against the cheap value, tau in the title.

    Drawn with matplotlib's object API and its Agg renderer, as ``archbench.results`` does.
    """
    paths = []
    reference = [c["reference_accuracy"] for c in doc["configs"]]
    for name, fit in doc["correlations"].items():
        cheap = [c["proxies"][name] for c in doc["configs"]]
        points = [(x, y) for x, y in zip(cheap, reference) if x is not None and y is not None]
        figure = Figure(figsize=(5, 4), dpi=100)
        axes = figure.add_subplot()
        if points:
            xs, ys = zip(*points)
            axes.scatter(xs, [100 * y for y in ys], s=24, alpha=0.8)
        if name in ("params", "flops"):
            axes.xaxis.set_major_formatter(lambda value, _: format_count(value))
        tau = "undefined" if fit is None else _signed(fit["kendall_tau"])
        axes.set_title(f"{name}: Kendall tau {tau} (n={len(points)})")
        axes.set_xlabel(f"{name} (cheap ranking; higher should be better)")
        axes.set_ylabel("reference validation accuracy, %")
        axes.grid(alpha=0.3)
        figure.tight_layout()
        path = out / plot_name(name)
        figure.savefig(path)
        paths.append(path)
    return paths


def markdown(doc: dict[str, Any], run: FidelityRun, plots: list[Path]) -> str:
    """``fidelity.md``: the settings, the table, the reference noise, and the plots."""
    settings = run.settings
    noise = doc["reference_noise"]
    cap = settings.budget.max_flops
    flops = f", under {format_count(cap)} FLOPs" if cap else ""
    lines = [
        f"# Fidelity: {settings.name}",
        "",
        f"{len(doc['configs'])} configs of space `{settings.space}` drawn with seed "
        f"{settings.seed}, under {format_count(settings.budget.max_params)} params{flops}, "
        f"data set `{settings.dataset}`, recipe `{settings.recipe}`.",
        _reference_line(settings),
        "",
        "| " + " | ".join(TABLE_HEADER) + " |",
        "|" + "---|" * len(TABLE_HEADER),
        *("| " + " | ".join(row) + " |" for row in table_rows(doc)),
        "",
        "Reference noise (Kendall tau between reference seeds): "
        + (
            "not measured (one reference seed)"
            if noise is None or noise["kendall_tau"] is None
            else f"{noise['kendall_tau']:+.2f}"
        ),
        "",
        f"Intervals: 95% percentile bootstrap over {BOOTSTRAP_RESAMPLES} paired resamples of the "
        f"configs (seed {settings.seed}). Top-k recall: the share of the reference's best "
        f"{TOP_FRACTION:.0%} found in the ranking's best {TOP_FRACTION:.0%}.",
        "",
        *(f"![{path.stem}]({path.name})" for path in plots),
        "",
    ]
    missing = {label: reasons for label, reasons in run.failures.items() if reasons}
    if missing:
        lines += ["## Failed trainings (missing from the comparisons)", ""]
        for label, reasons in missing.items():
            lines += [f"- {label}, config {index}: {reason}" for index, reason in reasons.items()]
        lines.append("")
    return "\n".join(lines)


def write_report(doc: dict[str, Any], run: FidelityRun, out: Path) -> Path:
    """Writes the plots and ``fidelity.md`` into ``out``; returns the markdown's path."""
    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(doc, out)
    path = out / "fidelity.md"
    path.write_text(markdown(doc, run, plots))
    return path


def noise_tau(first: list[float | None], second: list[float | None]) -> float | None:
    """Kendall tau between two reference seeds over the configs both trained."""
    pairs = [(a, b) for a, b in zip(first, second) if a is not None and b is not None]
    if len(pairs) < 2:
        return None
    a, b = (np.array(v, dtype=float) for v in zip(*pairs))
    value = kendall_tau(a, b)
    return value if math.isfinite(value) else None
