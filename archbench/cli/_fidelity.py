"""``archbench fidelity``: does a cheap ranking predict the reference one? With a live view."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text

from archbench._units import parse_count
from archbench.cli._app import app
from archbench.cli._common import (
    BACKEND_OPTION,
    CPUS_PER_TRIAL_OPTION,
    DATA_DIR_OPTION,
    DEVICE_OPTION,
    GPUS_PER_TRIAL_OPTION,
    JSON_OPTION,
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

if TYPE_CHECKING:
    from archbench.fidelity import FidelitySettings

SCORES_HELP = (
    "Zero-cost scores to compare, comma-separated (params and flops always are): synflow, snip, "
    "grad_norm, naswot, zico, ensemble, or all."
)


class FidelityView(LiveView):
    """The live view: trainings done of all settings, the setting now training, elapsed, ETA.

    The ETA weighs each training by its epochs, so a 6-epoch reference counts six times a
    1-epoch proxy.
    """

    def __init__(self) -> None:
        super().__init__()
        self.study = ""
        self.line = "drawing the configs"
        self.first_epochs: int | None = None
        self.event: Any = None
        self.printed: tuple[int, int] | None = None

    def __call__(self, event: Any) -> None:
        from archbench.fidelity import FidelityStarted, Trainings

        self.show()  # the library emits its first event once the settings are checked
        if isinstance(event, FidelityStarted):
            self.study = event.study
            self.say(f"{event.study}: {event.total} trainings ({', '.join(event.labels)})")
        if isinstance(event, Trainings) and self.first_epochs is None:
            self.first_epochs = event.epochs_done
            self.start = time.perf_counter()  # the ETA counts training time only
        if isinstance(event, Trainings) and (event.done, event.failed) != self.printed:
            self.printed = (event.done, event.failed)
            self.say(f"{self.study}: {self._status(event)}")
        self.event = event

    def _status(self, event: Any) -> str:
        elapsed = time.perf_counter() - self.start
        done_now = event.epochs_done - (self.first_epochs or 0)
        left = event.epochs_total - event.epochs_done
        eta = f"{elapsed / done_now * left:.0f}s" if done_now > 0 and left > 0 else "-"
        return (
            f"trainings {event.done}/{event.total}  now {event.label}  "
            f"running {event.running}  failed {event.failed}  "
            f"elapsed {elapsed:.0f}s  ETA {eta}"
        )

    def __rich__(self) -> Text:
        from archbench.fidelity import Scoring, Trainings

        event = self.event
        if isinstance(event, Scoring):
            status = f"zero-cost scores {event.done}/{event.total}"
        elif isinstance(event, Trainings):
            status = self._status(event)
        else:
            status = "drawing and counting the configs"
        return Text.assemble((f"{self.study}  ", "bold"), status)


@app.command("fidelity")
def fidelity(
    ctx: typer.Context,
    space: str = typer.Option(..., help="A space name or a space YAML file."),
    max_params: str = typer.Option(..., help="Parameter budget: 5M, 500k, 5e6 ..."),
    max_flops: str = MAX_FLOPS_OPTION,
    dataset: str = typer.Option("mnist5k", help="Data set of every training."),
    data_dir: str = DATA_DIR_OPTION,
    samples: int = typer.Option(..., help="Configs drawn (K, at least 2), seeded by --seed."),
    proxy_epochs: str = typer.Option(
        None, help="Proxy settings to compare, e.g. 1,2 (none with --benchmark)."
    ),
    proxy_subset: float = typer.Option(1.0, help="Fraction of the training split for proxies."),
    reference_epochs: int = typer.Option(
        None, help="Epochs of the reference training (the table's 200 with --benchmark)."
    ),
    benchmark: str = typer.Option(
        None, help="nb201: the reference is NAS-Bench-201's table; nothing trains."
    ),
    reference_seeds: int = typer.Option(
        1, help="Reference trainings per config, each with its own seed; 2 measures the noise."
    ),
    recipe: str = typer.Option("proxy", help="Training recipe; its epochs are replaced."),
    scores: str = typer.Option("all", help=SCORES_HELP),
    storage: str = STORAGE_OPTION,
    study: str = typer.Option(None, help="Parent study name (default: fidelity-space-...)."),
    workers: int = WORKERS_OPTION,
    backend: str = BACKEND_OPTION,
    cpus_per_trial: float = CPUS_PER_TRIAL_OPTION,
    gpus_per_trial: float = GPUS_PER_TRIAL_OPTION,
    ray_address: str = RAY_ADDRESS_OPTION,
    seed: int = typer.Option(0, help="Seeds the draw of the configs, the scores and intervals."),
    retry_failed: bool = typer.Option(
        False, help="Train again the configs whose training failed (e.g. a lost worker)."
    ),
    device: str = DEVICE_OPTION,
    out: Path = typer.Option(None, help="Folder for fidelity.md and one scatter plot per ranking."),
    quiet: bool = typer.Option(False, help="No live view; the table only."),
    json_output: bool = JSON_OPTION,
    verbose: bool = VERBOSE_OPTION,
) -> None:
    """Does a cheap ranking (short training, zero-cost score, size) predict full training?"""
    from archbench.fidelity import document, run_fidelity, write_report
    from archbench.search import SearchAborted

    with user_errors():
        settings = fidelity_settings(ctx.params)
    try:
        with user_errors():
            if quiet or json_output:
                result = run_fidelity(settings, verbose=verbose)
            else:
                with FidelityView() as view:
                    result = run_fidelity(settings, progress=view, verbose=verbose)
    except SearchAborted as exc:
        fail(f"fidelity stopped: {exc} (trained configs are kept; rerun to resume)")
    doc = document(result)
    report = write_report(doc, result, out) if out is not None else None
    if json_output:
        print_json(doc)
        return
    console.print(_table(doc, result.seconds))
    noise = doc["reference_noise"]
    if noise is not None and noise["kendall_tau"] is not None:
        console.print(f"reference noise: Kendall tau {noise['kendall_tau']:+.2f} between seeds")
    missing = sum(len(reasons) for reasons in result.failures.values())
    if missing:
        err_console.print(f"{missing} training(s) failed; they are missing from the figures")
    if report is not None:
        console.print(f"report: {report}")


# Options of `fidelity` that are not FidelitySettings fields: where and how to show the result.
_VIEW_OPTIONS = ("out", "quiet", "json_output", "verbose")


def fidelity_settings(options: dict[str, Any]) -> FidelitySettings:
    """The settings the options of ``fidelity`` ask for (``ctx.params``, keyed by option name):
    each is the field of the same name but for the budget's, Ray's and the parsed lists.

    Raises:
        ValueError: a bad count, epoch list or setting.
    """
    from archbench.budget import Budget
    from archbench.fidelity import FidelitySettings
    from archbench.search import RaySettings

    left = {key: value for key, value in options.items() if key not in _VIEW_OPTIONS}
    max_flops, proxy_epochs = left.pop("max_flops"), left.pop("proxy_epochs")
    ray = RaySettings(
        address=left.pop("ray_address"),
        cpus_per_trial=left.pop("cpus_per_trial"),
        gpus_per_trial=left.pop("gpus_per_trial"),
    )
    return FidelitySettings(
        budget=Budget(
            max_params=parse_count(left.pop("max_params"), "max_params"),
            max_flops=parse_count(max_flops, "max_flops") if max_flops else None,
        ),
        proxy_epochs=_epochs_list(proxy_epochs) if proxy_epochs is not None else (),
        reference_epochs=_reference_epochs(left.pop("reference_epochs"), left["benchmark"]),
        scores=tuple(part.strip() for part in left.pop("scores").split(",")),
        ray=ray if left["backend"] == "ray" else None,
        **left,
    )


def _reference_epochs(epochs: int | None, benchmark: str | None) -> int:
    """``--reference-epochs``, which a table fixes (its own epochs) and a training needs."""
    if epochs is not None:
        return epochs
    if benchmark is None:
        raise ValueError("reference_epochs: give the epochs of the reference training, e.g. 10")
    from archbench.tables import NB201_EPOCHS

    return NB201_EPOCHS


def _epochs_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"proxy_epochs: give whole epochs separated by commas, e.g. 1,2; got {text!r}"
        ) from None


def _table(doc: dict[str, Any], seconds: float) -> Table:
    from archbench.fidelity._report import TABLE_HEADER, table_rows
    from archbench.fidelity._stats import MIN_INTERVAL_CONFIGS

    few = [
        fit["n"] for fit in doc["correlations"].values() if fit and fit["n"] < MIN_INTERVAL_CONFIGS
    ]
    table = Table(
        title=f"{len(doc['configs'])} configs: each cheap ranking against the reference "
        f"accuracy ({seconds:.0f}s)",
        caption=f"no 95% CI below {MIN_INTERVAL_CONFIGS} configs (here {min(few)}): a bootstrap "
        "over so few is meaningless; read tau as indicative only"
        if few
        else None,
    )
    for index, column in enumerate(TABLE_HEADER):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in table_rows(doc):
        table.add_row(*row)
    return table
