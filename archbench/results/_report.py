"""The report of a study: PNG figures tied together by ``report.md`` and ``report.html``.

The Markdown file links the PNGs next to it (for a repository or a notebook); the HTML file
embeds them base64-encoded so that it can be mailed or attached as one self-contained file.
A figure without data (no profile, too few trials for importances) is replaced by a note that
says why, so a report is written for any study, even one trial old.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna

import archbench
from archbench._units import format_bytes, format_count
from archbench.results import _plots
from archbench.results._leaderboard import Leaderboard, leaderboard
from archbench.results._trials import TrialRow
from archbench.store import STATUSES, TRAINED, VERSION_ATTR, SearchSpec

DEFAULT_TOP = 5


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the report: its PNG, or the note that replaced it."""

    name: str
    title: str
    caption: str
    path: Path | None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "path": str(self.path) if self.path else None,
            "note": self.note,
        }


@dataclass(frozen=True)
class Report:
    """What ``write_report`` wrote."""

    study: str
    out_dir: Path
    markdown: Path
    html: Path
    figures: list[ReportFigure]

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "out_dir": str(self.out_dir),
            "markdown": str(self.markdown),
            "html": str(self.html),
            "figures": [figure.to_dict() for figure in self.figures],
        }


def _figure_specs(
    study: optuna.Study, rows: list[TrialRow], top_rows: list[TrialRow]
) -> list[tuple[str, str, str, Callable[[Path], Path]]]:
    """(file stem, title, caption, draw) for every figure, in report order."""
    budget = SearchSpec.read(study.user_attrs).max_params
    shared = [row.number for row in rows if row.shared_device]
    contention = (
        f" {'Trials' if len(shared) > 1 else 'Trial'} {', '.join(map(str, shared))} measured "
        "on a GPU that other trials used at the same time: the figures include that contention."
        if shared
        else ""
    )
    latency_noise = _noise_caption(rows, "latency_ms")
    throughput_noise = _noise_caption(rows, "infer_images_per_second")
    return [
        (
            "accuracy_vs_params",
            "Accuracy against parameters",
            "Trained configs (filled), pruned ones (hollow), the Pareto front of the trained "
            "ones, the parameter budget (dashed) and the rejected configs (ticks at the bottom, "
            "coloured by the budget that rejected them).",
            lambda p: _plots.plot_accuracy_vs(
                rows, p, field="n_params", label="parameters", larger_is_better=False, budget=budget
            ),
        ),
        (
            "accuracy_vs_latency",
            "Accuracy against latency",
            "Batch-1 inference latency (median) on the device of the search."
            + contention
            + latency_noise,
            lambda p: _plots.plot_accuracy_vs(
                rows, p, field="latency_ms", label="latency (ms, batch 1)", larger_is_better=False
            ),
        ),
        (
            "accuracy_vs_throughput",
            "Accuracy against throughput",
            "Inference throughput at the profile's batch size." + contention + throughput_noise,
            lambda p: _plots.plot_accuracy_vs(
                rows,
                p,
                field="infer_images_per_second",
                label="inference images/s",
                larger_is_better=True,
            ),
        ),
        (
            "optimization_history",
            "Optimization history",
            "Optuna's history of the validation accuracy; infeasible (rejected) trials in gray.",
            lambda p: _plots.plot_optimization_history(study, p),
        ),
        (
            "param_importances",
            "Parameter importances",
            "Optuna's PED-ANOVA importances of the search-space params for a high validation "
            "accuracy, over the trained trials. With few trials they are indicative only.",
            lambda p: _plots.plot_param_importances(study, p),
        ),
        (
            "params_by_status",
            "Rejected against trained configs",
            "Parameter counts of every proposed config, stacked by what became of it; "
            "rejections by the budget they broke.",
            lambda p: _plots.plot_params_by_status(rows, p, budget),
        ),
        (
            "epoch_curves",
            "Proxy training curves of the top trials",
            "Validation accuracy per epoch of the proxy training.",
            lambda p: _plots.plot_epoch_curves(top_rows, p),
        ),
        (
            "batch_sweep",
            "Batch-size sweep",
            "Throughput and memory against batch size, where a profile holds a sweep.",
            lambda p: _plots.plot_batch_sweep(top_rows, p),
        ),
    ]


def _noise_caption(rows: list[TrialRow], field: str) -> str:
    """A sentence naming the trials whose ``field`` is a noisy timing, or nothing."""
    noisy = [row.number for row in rows if field in row.noisy]
    if not noisy:
        return ""
    trials = f"{'Trials' if len(noisy) > 1 else 'Trial'} {', '.join(map(str, noisy))}"
    return (
        f" {trials} (crossed out): noisy timing, the blocks disagreed or the machine was busy; "
        "read those points, and a dashed front through them, as noise rather than fact."
    )


def write_report(
    study: optuna.Study, out_dir: str | Path, *, storage_url: str, top: int = DEFAULT_TOP
) -> Report:
    """Writes the figures, ``report.md`` and ``report.html`` of ``study`` into ``out_dir``.

    Args:
        storage_url: shown in the report, so a reader can open the same storage.
        top: trials in the leaderboard table and in the per-epoch curves.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    board = leaderboard(study)
    rows = [entry.trial for entry in board.entries]
    top_rows = [row for row in rows if row.status == TRAINED][:top]
    figures = []
    for name, title, caption, draw in _figure_specs(study, rows, top_rows):
        path = folder / f"{name}.png"
        try:
            figures.append(ReportFigure(name, title, caption, draw(path)))
        except _plots.NothingToPlot as missing:
            path.unlink(missing_ok=True)  # a figure left by an earlier report would mislead
            figures.append(ReportFigure(name, title, caption, None, str(missing)))
    settings = _settings(study, storage_url, board.counts)
    top_board = replace(board, entries=board.entries[:top])
    markdown = folder / "report.md"
    markdown.write_text(_markdown(study.study_name, settings, top_board, figures))
    page = folder / "report.html"
    page.write_text(_html(study.study_name, settings, top_board, figures))
    return Report(study.study_name, folder, markdown, page, figures)


def _settings(study: optuna.Study, storage_url: str, counts: dict[str, int]) -> dict[str, str]:
    spec = SearchSpec.read(study.user_attrs)
    subset = 1.0 if spec.subset is None else spec.subset
    return {
        "storage": storage_url,
        "space": f"{spec.space or '-'} ({spec.family or '-'})",
        "budgets": budgets(spec),
        "dataset": f"{spec.dataset or '-'} (subset {subset})",
        "proxy epochs": str(spec.epochs or "-"),
        "objectives": ", ".join(spec.objectives or []),
        "sampler / pruner": f"{spec.sampler or '-'} / {spec.pruner or '-'}",
        "trials": ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]),
        "searched with": f"archbench {study.user_attrs.get(VERSION_ATTR, '-')}",
        "reported": f"archbench {archbench.__version__}, "
        f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}",
    }


def budgets(spec: SearchSpec) -> str:
    """Every limit the search applied: params, FLOPs, latency and min batch, or ``none``."""
    limits = []
    if spec.max_params:
        limits.append(f"params <= {format_count(spec.max_params)}")
    if spec.max_flops:
        limits.append(f"forward FLOPs <= {format_count(spec.max_flops)}")
    if spec.max_latency_ms:
        limits.append(f"batch-1 latency <= {spec.max_latency_ms:g} ms")
    if spec.min_batch:
        on = f" on {format_bytes(spec.memory_bytes)}" if spec.memory_bytes else ""
        limits.append(f"predicted max batch >= {spec.min_batch}{on}")
    return "; ".join(limits) or "none"


def _table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """The headers and cells of the leaderboard table, unmeasured costs left out."""
    headers = board.measured_columns()
    lines = [entry.cells(mark_pareto=board.multi_objective) for entry in board.entries]
    return headers, [[line[header] for header in headers] for line in lines]


def _markdown(
    study: str, settings: dict[str, str], board: Leaderboard, figures: list[ReportFigure]
) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"# archbench report: {study}", ""]
    lines += [f"- **{key}**: {cell(value)}" for key, value in settings.items()]
    lines += ["", "## Leaderboard", ""]
    if board.multi_objective:
        lines += ["`*` marks the feasible Pareto set, listed first.", ""]
    headers, rows = _table(board)
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    for figure in figures:
        lines += ["", f"## {figure.title}", ""]
        if figure.path is not None:
            lines += [f"![{figure.title}]({figure.path.name})", "", figure.caption]
        else:
            lines += [f"_Not drawn: {figure.note}._"]
    return "\n".join(lines) + "\n"


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;padding:2px 6px}"
    "td{text-align:right}img{max-width:100%}.note{color:#666;font-style:italic}"
)


def _html(
    study: str, settings: dict[str, str], board: Leaderboard, figures: list[ReportFigure]
) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>archbench report: {esc(study)}'
        f"</title><style>{_STYLE}</style></head><body>",
        f"<h1>archbench report: {esc(study)}</h1><ul>",
        *(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in settings.items()),
        "</ul><h2>Leaderboard</h2>",
    ]
    if board.multi_objective:
        parts.append("<p><code>*</code> marks the feasible Pareto set, listed first.</p>")
    headers, rows = _table(board)
    parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr>")
    parts += ["<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows]
    parts.append("</table>")
    for figure in figures:
        parts.append(f"<h2>{esc(figure.title)}</h2>")
        if figure.path is not None:
            data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
            parts.append(
                f'<img alt="{esc(figure.title)}" src="data:image/png;base64,{data}">'
                f"<p>{esc(figure.caption)}</p>"
            )
        else:
            parts.append(f'<p class="note">Not drawn: {esc(figure.note or "")}.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
