"""``archbench search``: a budgeted architecture search with a live view."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from archbench._units import format_count, parse_count
from archbench.cli._app import app
from archbench.cli._common import (
    BACKEND_OPTION,
    CPUS_PER_TRIAL_OPTION,
    DATA_DIR_OPTION,
    DEVICE_OPTION,
    GPUS_PER_TRIAL_OPTION,
    MAX_FLOPS_OPTION,
    RAY_ADDRESS_OPTION,
    STORAGE_OPTION,
    VERBOSE_OPTION,
    WORKERS_OPTION,
    LiveView,
    console,
    err_console,
    fail,
    print_json,
    user_errors,
)

if TYPE_CHECKING:  # the search stack (optuna, torch) loads when a search runs, not at --help
    from archbench.search import (
        Prescreening,
        ProgressEvent,
        SearchSettings,
        SearchSummary,
        TrialCounts,
    )

GPU_MEMORY_HINT = "A size (12GiB) or a GPU name (rtx3060, a100-40gb, ...)."


class SearchProgress(LiveView):
    """The live view: trained/total, rejected, pruned, failed, running (with each running
    trial's epoch), best, elapsed and ETA; piped, a plain line per finished trial and per epoch.

    It renders the last ``TrialCounts`` event at each refresh, so elapsed time moves on while
    a trial trains. The ETA appears once this run has trained a trial, and counts down from
    the last one trained: trials trained so far took (last trained - start) / trained each.
    """

    def __init__(self, settings: SearchSettings, study_name: str) -> None:
        super().__init__()
        self.settings = settings
        self.study_name = study_name
        self.counts: TrialCounts | None = None
        self.prescreening: Prescreening | None = None
        self.trained_at_start: int | None = None
        self.last_trained_at: float | None = None
        self.printed: tuple[int, ...] = ()
        self.epochs_printed: dict[int, int] = {}

    def __call__(self, event: ProgressEvent) -> None:
        from archbench.search import Prescreening, TrialCounts

        if isinstance(event, Prescreening):
            self.show()
            if event.done and not (self.prescreening and self.prescreening.done):
                self.say(f"{self.study_name}: prescreened {event.total} configs with {event.score}")
            self.prescreening = event
        if isinstance(event, TrialCounts):
            self.show()
            if self.trained_at_start is None:
                self.trained_at_start = event.trained
            if self.counts is None or event.trained > self.counts.trained:
                self.last_trained_at = time.perf_counter()
            self.counts = event
            self._say_progress(event)

    def _eta(self, trained: int) -> str:
        done_now = trained - (self.trained_at_start or 0)
        remaining = self.settings.n_trials - trained
        if not done_now or remaining <= 0 or self.last_trained_at is None:
            return "-"
        per_trial = (self.last_trained_at - self.start) / done_now
        since = time.perf_counter() - self.last_trained_at
        return f"{max(0.0, per_trial * remaining - since):.0f}s"

    def _running(self, counts: TrialCounts) -> str:
        epochs = f"/{counts.epochs}" if counts.epochs else ""
        return ", ".join(
            f"trial {number} epoch {done + 1}{epochs}"
            for number, done in counts.running_epochs
            if not counts.epochs or done < counts.epochs
        )

    def _best(self, counts: TrialCounts | None) -> str:
        best = counts.best if counts else None
        if best is None:
            return "best: none yet"
        return (
            f"best: trial {best.number}  val acc {best.val_accuracy:.2%}  "
            f"params {format_count(best.n_params or 0)}"
        )

    def _say_progress(self, counts: TrialCounts) -> None:
        """Plain lines for a log: one when a trial finishes, one per epoch of a running trial."""
        state = (counts.trained, counts.rejected, counts.pruned, counts.failed)
        if state != self.printed and any(state):
            elapsed = time.perf_counter() - self.start
            self.say(
                f"{self.study_name}: trained {counts.trained}/{self.settings.n_trials}  "
                f"rejected {counts.rejected}  pruned {counts.pruned}  failed {counts.failed}  "
                f"{self._best(counts)}  elapsed {elapsed:.0f}s  ETA {self._eta(counts.trained)}"
            )
        self.printed = state
        if not counts.epochs or counts.epochs < 2:
            return
        for number, done in counts.running_epochs:
            if done and done != self.epochs_printed.get(number):
                self.say(f"  trial {number}: epoch {done}/{counts.epochs} done")
                self.epochs_printed[number] = done

    def __rich__(self) -> Group:
        counts = self.counts
        trained = counts.trained if counts else 0
        elapsed = time.perf_counter() - self.start
        running = self._running(counts) if counts else ""
        line = Text.assemble(
            (f"{self.study_name}  ", "bold"),
            f"trained {trained}/{self.settings.n_trials}  ",
            (f"rejected {counts.rejected if counts else 0}  ", "yellow"),
            f"pruned {counts.pruned if counts else 0}  ",
            (f"failed {counts.failed if counts else 0}  ", "red"),
            f"running {counts.running if counts else 0}" + (f" ({running})" if running else ""),
            f"  elapsed {elapsed:.0f}s  ETA {self._eta(trained)}",
        )
        lines = [line, Text(self._best(counts), style="green")]
        screen = self.prescreening
        if screen is not None and not screen.done:  # no trial starts before it is done
            status = f"prescreening {screen.total} configs with {screen.score}: {screen.scored}"
            lines.insert(0, Text(f"{status} scored", style="cyan"))
        return Group(*lines)


def _summary_table(summary: SearchSummary) -> Table:
    table = Table(
        title=f"{summary.study}: {summary.trained} trained ({summary.pruned} pruned), "
        f"{summary.rejected} rejected, {summary.failed} failed in {summary.seconds:.0f}s"
    )
    baselines = any(row["baseline"] for row in summary.best)  # no empty column without one
    for column in ("rank", "trial", "val accuracy", "params", "epochs"):
        table.add_column(column, justify="right")
    if baselines:
        table.add_column("baseline")
    for rank, row in enumerate(summary.best, 1):
        cells = [
            str(rank),
            str(row["trial"]),
            f"{row['val_accuracy']:.2%}",
            format_count(row["n_params"] or 0),
            str(row["epochs"]),
        ]
        table.add_row(*cells, *([row["baseline"] or ""] if baselines else []))
    return table


@app.command("search")
def search(
    ctx: typer.Context,
    space: str = typer.Option("resnet", help="A space name or a space YAML file."),
    max_params: str = typer.Option("5M", help="Parameter budget: 5M, 4.5M, 500k, 5e6 ..."),
    trials: int = typer.Option(20, help="Trials that train (rejections do not count)."),
    sampler: str = typer.Option("tpe", help="tpe, random, gp, qmc, nsga2 or rea."),
    objective: str = typer.Option(
        "accuracy", help="accuracy, accuracy,params, accuracy,latency or accuracy,throughput."
    ),
    dataset: str = typer.Option(
        "mnist5k", help="Data set of the proxy training, or of the --benchmark table."
    ),
    benchmark: str = typer.Option(
        None, help="nb201: look accuracies up in NAS-Bench-201's table instead of training."
    ),
    data_dir: str = DATA_DIR_OPTION,
    epochs: int = typer.Option(None, help="Proxy epochs (default: the recipe's)."),
    subset: float = typer.Option(1.0, help="Fraction of the training split used by trials."),
    recipe: str = typer.Option("proxy", help="Training recipe name or YAML file."),
    pruner: str = typer.Option("median", help="median, hyperband or none."),
    storage: str = STORAGE_OPTION,
    study: str = typer.Option(None, help="Study name (default: space-budget-dataset)."),
    backend: str = BACKEND_OPTION,
    workers: int = WORKERS_OPTION,
    seed: int = typer.Option(None, help="Sampler seed."),
    profile: str = typer.Option("basic", help="Profile each trial: none, basic or full."),
    device: str = DEVICE_OPTION,
    isolation: str = typer.Option(
        "auto", help="inline, or process (a fresh process per trial; the default on CUDA)."
    ),
    baseline: list[str] = typer.Option([], help="Preset to evaluate first (repeatable)."),
    max_flops: str = MAX_FLOPS_OPTION,
    max_latency_ms: float = typer.Option(
        None, help="Latency cap (ms): measured on the trial device, or predicted on --latency-on."
    ),
    latency_on: str = typer.Option(
        None,
        help="Predict latency on this device (rtx4090, a100-80gb, a DEVICE.yaml) for "
        "--max-latency-ms and a latency objective, before anything is built.",
    ),
    latency_batch: int = typer.Option(1, help="Batch size of the --latency-on prediction."),
    fit_budget: bool = typer.Option(False, help="Shrink widths to fit instead of rejecting."),
    min_batch: int = typer.Option(None, help="Reject configs whose predicted max batch is lower."),
    memory: str = typer.Option(
        None, help="GPU memory for --min-batch and the predicted max batch. " + GPU_MEMORY_HINT
    ),
    max_rejections: int = typer.Option(None, help="Rejections in a row before giving up."),
    heartbeat: int = typer.Option(30, help="Seconds between trial heartbeats (RDB storages)."),
    epoch_timeout: float = typer.Option(
        3600.0, help="Seconds a trial process may take per epoch before it is killed."
    ),
    scheduler: str = typer.Option("asha", help="Ray: asha (stops weak trials early) or fifo."),
    grace_period: int = typer.Option(1, help="Ray ASHA: epochs every trial trains before a stop."),
    reduction_factor: int = typer.Option(4, help="Ray ASHA: 1/N of the trials go on at each rung."),
    cpus_per_trial: float = CPUS_PER_TRIAL_OPTION,
    gpus_per_trial: float = GPUS_PER_TRIAL_OPTION,
    ray_address: str = RAY_ADDRESS_OPTION,
    ray_storage: str = typer.Option(
        None, help="Ray: experiment folder, shared on a cluster (default: next to the database)."
    ),
    max_failures: int = typer.Option(0, help="Ray: retries of a trial whose worker died."),
    prescreen: int = typer.Option(
        None, help="Score K feasible configs at initialisation first; the best train first."
    ),
    zero_cost: str = typer.Option(
        None,
        help="--prescreen score: params, flops, synflow, snip, grad_norm, naswot, zico, ensemble.",
    ),
    prescreen_top: int = typer.Option(
        None, help="--prescreen configs that train first (default: a quarter of --trials)."
    ),
    fresh: bool = typer.Option(False, help="Delete the study of this name first."),
    quiet: bool = typer.Option(False, help="No live view; one summary line."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    verbose: bool = VERBOSE_OPTION,
) -> None:
    """Search a space under a parameter budget; rerun the same command to resume."""
    with user_errors():
        settings = search_settings(ctx.params)
    run_with_view(
        settings,
        fresh=fresh,
        verbose=verbose,
        quiet=quiet or json_output,
        json_output=json_output,
    )


# Options of `search` that are not SearchSettings fields: they say how to show the run.
_VIEW_OPTIONS = ("fresh", "quiet", "json_output", "verbose")
# Options that are RaySettings fields of the same name.
_RAY_OPTIONS = (
    "scheduler",
    "grace_period",
    "reduction_factor",
    "cpus_per_trial",
    "gpus_per_trial",
    "max_failures",
)


def search_settings(options: dict[str, Any]) -> SearchSettings:
    """The settings the options of ``search`` ask for (``ctx.params``, keyed by option name).

    Most options are the ``SearchSettings`` field of the same name; the budget's, Ray's and a
    few renamed ones are mapped here.

    Raises:
        ValueError: a bad count, memory size or setting.
    """
    from archbench.budget import Budget
    from archbench.search import RaySettings, SearchSettings

    left = {key: value for key, value in options.items() if key not in _VIEW_OPTIONS}
    memory, latency_on = left.pop("memory"), left.pop("latency_on")
    max_latency_ms, max_flops = left.pop("max_latency_ms"), left.pop("max_flops")
    if memory is not None:
        from archbench.hwprofile import resolve_memory

        memory = resolve_memory(memory)
    budget = Budget(
        max_params=parse_count(left.pop("max_params"), "max_params"),
        max_flops=parse_count(max_flops, "max_flops") if max_flops else None,
        max_latency_ms=None if latency_on else max_latency_ms,
        min_batch=left.pop("min_batch"),
        memory_bytes=memory,
        fit=left.pop("fit_budget"),
        latency_on=latency_on,
        max_predicted_latency_ms=max_latency_ms if latency_on else None,
        latency_batch=left.pop("latency_batch"),
    )
    ray = RaySettings(
        address=left.pop("ray_address"),
        storage_path=left.pop("ray_storage"),
        **{key: left.pop(key) for key in _RAY_OPTIONS},
    )
    return SearchSettings(
        budget=budget,
        ray=ray if left["backend"] == "ray" else None,
        n_trials=left.pop("trials"),
        objectives=tuple(part.strip() for part in left.pop("objective").split(",")),
        baselines=tuple(left.pop("baseline")),
        heartbeat_seconds=left.pop("heartbeat"),
        epoch_timeout_seconds=left.pop("epoch_timeout"),
        **left,
    )


def run_with_view(
    settings: SearchSettings, *, fresh: bool, verbose: bool, quiet: bool, json_output: bool
) -> None:
    """Runs a search (any backend) under the live view, then prints its summary."""
    from archbench.search import SearchAborted, run, study_name

    try:
        with user_errors():
            if quiet:
                summary = run(settings, fresh=fresh, verbose=verbose)
            else:
                name = study_name(settings)
                with SearchProgress(settings, name) as view:
                    summary = run(settings, fresh=fresh, verbose=verbose, progress=view)
    except SearchAborted as exc:
        fail(f"search stopped: {exc} (stored trials are kept)")
    _print_summary(settings, summary, quiet=quiet, json_output=json_output)


def _print_summary(
    settings: SearchSettings, summary: SearchSummary, *, quiet: bool, json_output: bool
) -> None:
    if json_output:
        print_json(summary.to_dict())
    elif quiet:
        err_console.print(
            f"{summary.study}: {summary.trained} trained, {summary.rejected} rejected, "
            f"{summary.failed} failed in {summary.seconds:.0f}s"
        )
    else:
        console.print()  # the live view may leave the cursor on its last line
        console.print(_summary_table(summary))
        console.print(
            f"next: archbench results --study {summary.study}"
            + (f" --storage {settings.storage}" if settings.storage else "")
        )
