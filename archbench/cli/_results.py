"""``archbench results``, ``export`` and ``report``: what a search found, and the next step."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from archbench._units import format_count
from archbench.cli._app import app
from archbench.cli._common import JSON_OPTION, STORAGE_OPTION, console, print_json, user_errors
from archbench.results import COLUMNS, DEFAULT_EXPORT_RECIPE, SORT_FIELDS, format_value
from archbench.store import STATUSES

if TYPE_CHECKING:
    from archbench.results import Leaderboard, StudyOverview

STUDY_OPTION = typer.Option(None, help="Study name (default: the only study of the storage).")
CSV_OPTION = typer.Option(None, help="Also write the lines to this CSV file.")
EXPORT_OUT_OPTION = typer.Option(Path("exports"), help="Output folder.")
REPORT_OUT_OPTION = typer.Option(None, help="Output folder [results/report/STUDY].")
TABLE_TOP = 20


def _overview_table(url: str, overviews: list[StudyOverview]) -> Table:
    table = Table(title=f"Studies in {url}")
    headers = ("study", "objectives", "space", "dataset", "budget", *STATUSES)
    for header in (*headers, "best trial", "best val accuracy", "best params"):
        table.add_column(header, justify="left" if header in headers[:4] else "right")
    for item in overviews:
        best = item.best
        table.add_row(
            item.name,
            ",".join(item.objectives),
            item.space or "-",
            item.dataset or "-",
            format_count(item.max_params) if item.max_params else "-",
            *(str(item.counts.get(status, 0)) for status in STATUSES),
            str(best.number) if best else "-",
            format_value("val_accuracy", best.val_accuracy if best else None),
            format_value("n_params", best.n_params if best else None),
        )
    return table


def _leaderboard_table(board: Leaderboard) -> Table:
    counts = ", ".join(f"{board.counts[s]} {s}" for s in STATUSES if board.counts[s])
    budget = f", budget {format_count(board.max_params)}" if board.max_params else ""
    shown = board.measured_columns()
    hidden = [header for header in COLUMNS if header not in shown and header != "reason"]
    notes = []
    if board.multi_objective:
        first = ", listed first" if board.sort == "accuracy" else ""
        notes.append(f"* = feasible Pareto set{first}")
    if hidden:
        notes.append(f"not measured: {', '.join(hidden)}")
    if board.noisy_trials:
        noisy = board.noisy_trials
        trials = f"trial{'s' if len(noisy) > 1 else ''} {', '.join(map(str, noisy))}"
        notes.append(
            f"~ = noisy timing ({trials}): its blocks disagreed or the machine was busy; "
            "--json says why"
        )
    if board.shared_device_trials:
        shared = board.shared_device_trials
        trials = f"trial{'s' if len(shared) > 1 else ''} {', '.join(map(str, shared))}"
        notes.append(f"{trials} measured on a shared GPU: latency and img/s include its load")
    table = Table(
        title=f"{board.study}: {', '.join(board.objectives)}{budget} ({counts})",
        caption="; ".join(notes) or None,
    )
    for header in shown:
        if header in ("state", "reason"):
            table.add_column(header, overflow="fold")
        else:
            table.add_column(header, justify="right", no_wrap=True)
    for entry in board.entries:
        cells = entry.cells(mark_pareto=board.multi_objective)
        table.add_row(*(cells[header] for header in shown))
    return table


@app.command("results")
def results(
    storage: str = STORAGE_OPTION,
    study: str = typer.Option(None, help="Study name (default: list the studies)."),
    top: int = typer.Option(
        None, help=f"Lines to show [{TABLE_TOP} in the table; all in --json and --csv]."
    ),
    sort: str = typer.Option(
        None, help=f"{', '.join(SORT_FIELDS)} [accuracy; multi-objective: Pareto set first]."
    ),
    state: str = typer.Option(None, help=f"Only trials in this state: {', '.join(STATUSES)}."),
    json_output: bool = JSON_OPTION,
    csv: Path = CSV_OPTION,
) -> None:
    """The leaderboard of a study, or the studies of a storage with their counts."""
    from archbench.results import (
        LEADERBOARD_FIELDS,
        OVERVIEW_FIELDS,
        leaderboard,
        list_studies,
        load_study,
        write_csv,
    )
    from archbench.store import normalize_storage_url

    with user_errors():
        url = normalize_storage_url(storage)
        if study is None:
            overviews = list_studies(storage)
            if csv is not None:
                write_csv([item.to_dict() for item in overviews], csv, OVERVIEW_FIELDS)
            if json_output:
                print_json({"storage": url, "studies": [item.to_dict() for item in overviews]})
            elif overviews:
                console.print(_overview_table(url, overviews))
            else:
                console.print(f"no studies in {url}; run `archbench search` first", markup=False)
            return
        board = leaderboard(load_study(storage, study), top=top, sort=sort, state=state)
        if csv is not None:
            write_csv([entry.summary() for entry in board.entries], csv, LEADERBOARD_FIELDS)
    if json_output:
        print_json({"storage": url, **board.to_dict()})
        return
    shown = board.entries[: top or TABLE_TOP]
    console.print(_leaderboard_table(replace(board, entries=shown)))
    if len(shown) < len(board.entries):
        console.print(
            f"{len(shown)} of {len(board.entries)} lines; --top N for more, --json or --csv for "
            "all",
            style="dim",
            markup=False,
        )


@app.command("export")
def export(
    storage: str = STORAGE_OPTION,
    study: str = STUDY_OPTION,
    top: int = typer.Option(None, help="Export the first K trained trials [3]."),
    pareto: bool = typer.Option(False, help="Export the feasible Pareto set."),
    trial: int = typer.Option(None, help="Export this trial number."),
    recipe: str = typer.Option(
        DEFAULT_EXPORT_RECIPE, help="Full-training recipe written into the files (name or file)."
    ),
    out: Path = EXPORT_OUT_OPTION,
    force: bool = typer.Option(False, help="Overwrite existing files."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write the best configs as YAML files with their card, ready for `archbench train`."""
    from archbench.results import CHECK_EPOCHS, export_trials, load_study
    from archbench.store import normalize_storage_url

    with user_errors():
        loaded = load_study(storage, study)
        exported = export_trials(
            loaded,
            storage_url=normalize_storage_url(storage),
            out_dir=out,
            top=top,
            pareto=pareto,
            trial=trial,
            recipe=recipe,
            force=force,
        )
    if json_output:
        print_json([item.to_dict() for item in exported])
        return
    for item in exported:
        console.print(
            f"wrote {item.path} (trial {item.trial}, {item.n_params:,} params, "
            f"val accuracy {format_value('val_accuracy', item.val_accuracy)})",
            markup=False,
            highlight=False,
        )
        console.print(
            f"  check first ({CHECK_EPOCHS} epochs, {item.duration(CHECK_EPOCHS)}): "
            f"{item.check_command}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"  train ({item.epochs} epochs, {item.duration(item.epochs)}): {item.command}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for name, why in item.noisy.items():
            console.print(
                f"  noisy timing: {name} ({why})", style="yellow", markup=False, highlight=False
            )


@app.command("report")
def report(
    storage: str = STORAGE_OPTION,
    study: str = STUDY_OPTION,
    out: Path = REPORT_OUT_OPTION,
    top: int = typer.Option(5, help="Trials in the table and the per-epoch curves."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write PNG plots, report.md and a self-contained report.html for a study."""
    import matplotlib

    matplotlib.use("Agg")  # Optuna's plots go through pyplot; a report needs no display
    from archbench.results import load_study, write_report
    from archbench.store import normalize_storage_url

    with user_errors():
        loaded = load_study(storage, study)
        written = write_report(
            loaded,
            out or Path("results") / "report" / loaded.study_name,
            storage_url=normalize_storage_url(storage),
            top=top,
        )
    if json_output:
        print_json(written.to_dict())
        return
    for figure in written.figures:
        if figure.path is not None:
            console.print(f"wrote {figure.path}", markup=False, highlight=False)
        else:
            console.print(f"skipped {figure.name}: {figure.note}", style="dim", markup=False)
    console.print(f"report: {written.markdown} and {written.html}", markup=False, highlight=False)
