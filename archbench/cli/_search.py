"""``archbench search``: a budgeted architecture search with a live view."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import optuna
import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from archbench._units import format_count, parse_count
from archbench.cli import app
from archbench.cli._common import console, err_console, fail, print_json, user_errors
from archbench.search import (
    Budget,
    SearchAborted,
    SearchSettings,
    SearchSummary,
    counts_by_status,
    run_search,
)
from archbench.search._records import FAILED, PRUNED, REJECTED, RUNNING, TRAINED
from archbench.search._settings import RaySettings

GPU_MEMORY_HINT = "A size (12GiB) or a GPU name (rtx3060, a100-40gb, ...)."


class SearchProgress:
    """The live view: trained/total, rejected, pruned, failed, best so far, elapsed and ETA."""

    def __init__(self, settings: SearchSettings, study_name: str) -> None:
        self.settings = settings
        self.study_name = study_name
        self.start = time.perf_counter()
        self.trained_at_start: int | None = None
        self.live = Live(self._render(None), console=console, refresh_per_second=2, transient=False)

    def __enter__(self) -> SearchProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def update(self, study: optuna.Study, *_: Any) -> None:
        self.live.update(self._render(study))

    def _render(self, study: optuna.Study | None) -> Group:
        counts = counts_by_status(study) if study is not None else {}
        trained = counts.get(TRAINED, 0) + counts.get(PRUNED, 0)
        if self.trained_at_start is None and study is not None:
            self.trained_at_start = trained
        elapsed = time.perf_counter() - self.start
        done_now = trained - (self.trained_at_start or 0)
        remaining = self.settings.n_trials - trained
        eta = f"{elapsed / done_now * remaining:.0f}s" if done_now and remaining > 0 else "-"
        line = Text.assemble(
            (f"{self.study_name}  ", "bold"),
            f"trained {trained}/{self.settings.n_trials}  ",
            (f"rejected {counts.get(REJECTED, 0)}  ", "yellow"),
            f"pruned {counts.get(PRUNED, 0)}  ",
            (f"failed {counts.get(FAILED, 0)}  ", "red"),
            f"running {counts.get(RUNNING, 0)}  ",
            f"elapsed {elapsed:.0f}s  ETA {eta}",
        )
        best = _best_line(study) if study is not None else ""
        return Group(line, Text(best, style="green"))


def _best_line(study: optuna.Study) -> str:
    best_value, best_trial = None, None
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if trial.user_attrs.get("status") != TRAINED or not trial.values:
            continue
        if best_value is None or trial.values[0] > best_value:
            best_value, best_trial = trial.values[0], trial
    if best_trial is None:
        return "best: none yet"
    return (
        f"best: trial {best_trial.number}  val acc {best_value:.2%}  "
        f"params {format_count(best_trial.user_attrs.get('n_params', 0))}"
    )


def _summary_table(summary: SearchSummary) -> Table:
    table = Table(
        title=f"{summary.study}: {summary.trained} trained ({summary.pruned} pruned), "
        f"{summary.rejected} rejected, {summary.failed} failed in {summary.seconds:.0f}s"
    )
    for column in ("rank", "trial", "val accuracy", "params", "epochs", "baseline"):
        table.add_column(column, justify="right" if column != "baseline" else "left")
    for rank, row in enumerate(summary.best, 1):
        table.add_row(
            str(rank),
            str(row["trial"]),
            f"{row['val_accuracy']:.2%}",
            format_count(row["n_params"] or 0),
            str(row["epochs"]),
            row["baseline"] or "",
        )
    return table


@app.command("search")
def search(
    space: str = typer.Option("resnet", help="A space name or a space YAML file."),
    max_params: str = typer.Option("5M", help="Parameter budget: 5M, 4.5M, 500k, 5e6 ..."),
    trials: int = typer.Option(20, help="Trials that train (rejections do not count)."),
    sampler: str = typer.Option("tpe", help="tpe, random, gp, qmc or nsga2."),
    objective: str = typer.Option(
        "accuracy", help="accuracy, accuracy,params, accuracy,latency or accuracy,throughput."
    ),
    dataset: str = typer.Option("mnist5k", help="Data set of the proxy training."),
    data_dir: str = typer.Option(None, help="Root of the data files (default $ARCHBENCH_DATA)."),
    epochs: int = typer.Option(None, help="Proxy epochs (default: the recipe's)."),
    subset: float = typer.Option(1.0, help="Fraction of the training split used by trials."),
    recipe: str = typer.Option("proxy", help="Training recipe name or YAML file."),
    pruner: str = typer.Option("median", help="median, hyperband or none."),
    storage: str = typer.Option(None, help="sqlite:///file.db, a SQLAlchemy URL or a .log file."),
    study: str = typer.Option(None, help="Study name (default: space-budget-dataset)."),
    backend: str = typer.Option("optuna", help="optuna, or ray for Ray Tune."),
    workers: int = typer.Option(1, help="Worker processes sharing the storage."),
    seed: int = typer.Option(None, help="Sampler seed."),
    profile: str = typer.Option("basic", help="Profile each trial: none, basic or full."),
    device: str = typer.Option("auto", help="auto, cpu or cuda[:N]."),
    isolation: str = typer.Option(
        "auto", help="inline, or process (a fresh process per trial; the default on CUDA)."
    ),
    baseline: list[str] = typer.Option([], help="Preset to evaluate first (repeatable)."),
    max_flops: str = typer.Option(None, help="Forward FLOPs cap per image, e.g. 200M."),
    max_latency_ms: float = typer.Option(None, help="Batch-1 latency cap on the trial device."),
    fit_budget: bool = typer.Option(False, help="Shrink widths to fit instead of rejecting."),
    min_batch: int = typer.Option(None, help="Reject configs whose predicted max batch is lower."),
    memory: str = typer.Option(
        None, help="GPU memory for --min-batch and the predicted max batch. " + GPU_MEMORY_HINT
    ),
    max_rejections: int = typer.Option(None, help="Rejections in a row before giving up."),
    heartbeat: int = typer.Option(30, help="Seconds between trial heartbeats (RDB storages)."),
    scheduler: str = typer.Option("asha", help="Ray: asha (stops weak trials early) or fifo."),
    grace_period: int = typer.Option(1, help="Ray ASHA: epochs every trial trains before a stop."),
    reduction_factor: int = typer.Option(4, help="Ray ASHA: 1/N of the trials go on at each rung."),
    cpus_per_trial: float = typer.Option(1.0, help="Ray: CPUs reserved for each trial."),
    gpus_per_trial: float = typer.Option(0.0, help="Ray: GPUs per trial; 0.25 packs 4 on a card."),
    ray_address: str = typer.Option(None, help="Ray: auto joins `ray start`; default: local Ray."),
    ray_storage: str = typer.Option(
        None, help="Ray: experiment folder, shared on a cluster (default: next to the database)."
    ),
    max_failures: int = typer.Option(0, help="Ray: retries of a trial whose worker died."),
    fresh: bool = typer.Option(False, help="Delete the study of this name first."),
    quiet: bool = typer.Option(False, help="No live view; one summary line."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Search a space under a parameter budget; rerun the same command to resume."""
    with user_errors():
        budget_memory = None
        if memory is not None:
            from archbench.hwprofile import resolve_memory

            budget_memory = resolve_memory(memory)
        settings = SearchSettings(
            space=space,
            budget=Budget(
                max_params=parse_count(max_params, "max_params"),
                max_flops=parse_count(max_flops, "max_flops") if max_flops else None,
                max_latency_ms=max_latency_ms,
                min_batch=min_batch,
                memory_bytes=budget_memory,
                fit=fit_budget,
            ),
            n_trials=trials,
            objectives=tuple(part.strip() for part in objective.split(",")),
            sampler=sampler,
            pruner=pruner,
            dataset=dataset,
            data_dir=data_dir,
            recipe=recipe,
            epochs=epochs,
            subset=subset,
            storage=storage,
            study=study,
            seed=seed,
            workers=workers,
            device=device,
            profile=profile,
            isolation=isolation,
            baselines=tuple(baseline),
            max_rejections=max_rejections,
            heartbeat_seconds=heartbeat,
            backend=backend,
            ray=RaySettings(
                address=ray_address,
                scheduler=scheduler,
                grace_period=grace_period,
                reduction_factor=reduction_factor,
                cpus_per_trial=cpus_per_trial,
                gpus_per_trial=gpus_per_trial,
                max_failures=max_failures,
                storage_path=ray_storage,
            )
            if backend == "ray"
            else None,
        )
    if backend not in ("optuna", "ray"):
        fail(f"backend: {backend!r} is unknown; choose optuna or ray")
    if backend == "ray":
        from archbench.cli._ray import run_ray_search

        run_ray_search(settings, fresh=fresh, quiet=quiet or json_output, json_output=json_output)
        return
    _run_optuna(settings, fresh=fresh, quiet=quiet or json_output, json_output=json_output)


def _run_optuna(settings: SearchSettings, *, fresh: bool, quiet: bool, json_output: bool) -> None:
    def run(view: SearchProgress | None) -> SearchSummary:
        update = view.update if view is not None else None
        return run_search(settings, fresh=fresh, on_trial=update, poll=update)

    run_with_view(settings, run, quiet=quiet, json_output=json_output)


def run_with_view(
    settings: SearchSettings,
    run: Callable[[SearchProgress | None], SearchSummary],
    *,
    quiet: bool,
    json_output: bool,
) -> None:
    """Runs a search (any backend) under the live view, then prints its summary."""
    from archbench.search import default_study_name

    try:
        with user_errors():
            if quiet:
                summary = run(None)
            else:
                with SearchProgress(
                    settings, settings.study or default_study_name(settings)
                ) as view:
                    summary = run(view)
    except SearchAborted as exc:
        fail(f"search stopped: {exc} (stored trials are kept)")
    if json_output:
        print_json(summary.to_dict())
    elif quiet:
        err_console.print(
            f"{summary.study}: {summary.trained} trained, {summary.rejected} rejected, "
            f"{summary.failed} failed in {summary.seconds:.0f}s"
        )
    else:
        console.print(_summary_table(summary))
        console.print(
            f"next: archbench results --study {summary.study}"
            + (f" --storage {settings.storage}" if settings.storage else "")
        )
