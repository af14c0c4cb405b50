"""What every command shares: consoles, JSON output, and the one-line error contract.

Bad input exits 2 with one line on stderr naming the problem, never a traceback (docs/DESIGN.md,
command-line conventions). Library code raises ``ValueError`` for bad input; ``user_errors`` turns
it into that.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.live import Live

# Piped output (logs, CI, `| less`) gets a wide table instead of rich's 80-column default,
# unless COLUMNS says how wide it may be.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160)
err_console = Console(stderr=True)

EXIT_USAGE = 2
# Options that several commands share, declared once.
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document and nothing else.")
DATA_DIR_OPTION = typer.Option(
    None, "--data-dir", help="Data root; default $ARCHBENCH_DATA, else ~/.cache/archbench/data."
)
STORAGE_OPTION = typer.Option(
    None,
    help="sqlite:///file.db, a SQLAlchemy URL or a .log journal [sqlite:///results/archbench.db].",
)
DEVICE_OPTION = typer.Option(
    "auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."
)
MAX_FLOPS_OPTION = typer.Option(None, help="Forward FLOPs cap per image, e.g. 60M.")
WORKERS_OPTION = typer.Option(1, help="Worker processes sharing the storage.")
RAY_ADDRESS_OPTION = typer.Option(None, help="Ray: auto joins `ray start`; default: local Ray.")
VERBOSE_OPTION = typer.Option(False, help="Show Optuna's log lines.")
BACKEND_OPTION = typer.Option("optuna", help="optuna, or ray for Ray Tune.")
CPUS_PER_TRIAL_OPTION = typer.Option(1.0, help="Ray: CPUs reserved for each trial.")
GPUS_PER_TRIAL_OPTION = typer.Option(0.0, help="Ray: GPUs per trial; 0.25 packs 4 on a card.")


_View = TypeVar("_View", bound="LiveView")


class LiveView:
    """The base of a command's live view: on a terminal it redraws ``__rich__`` twice a second;
    piped, it prints the plain lines its subclass passes to ``say``.

    Nothing is drawn before ``show``, which a subclass calls on the first event that follows
    the library's validation, so bad input gives its one-line error without a frame before it.
    Subclasses keep the last events they are called with and render them, so elapsed time
    moves on between events; leaving draws the final state once more.
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.terminal = console.is_terminal
        self.live = Live(self, console=console, refresh_per_second=2, transient=False)
        self.shown = False

    def __rich__(self) -> RenderableType:
        raise NotImplementedError  # each view draws its own state

    def __enter__(self: _View) -> _View:
        return self

    def show(self) -> None:
        """Starts drawing (on a terminal), once."""
        if self.terminal and not self.shown:
            self.live.start()
        self.shown = True

    def say(self, line: str) -> None:
        """Prints one plain line when the output is not a terminal (a log, a pipe)."""
        if not self.terminal:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
            console.file.flush()

    def __exit__(self, *exc: Any) -> None:
        if self.terminal and self.shown:
            self.live.refresh()
            self.live.stop()


class UserError(Exception):
    """Bad input from the person at the keyboard: reported in one line, exit code 2."""


def fail(message: str) -> NoReturn:
    raise UserError(message)


@contextmanager
def user_errors() -> Iterator[None]:
    """Reports ``ValueError`` and ``FileNotFoundError`` from the library as bad input."""
    try:
        yield
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(
            str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        ) from None


def print_json(document: Any) -> None:
    """Prints exactly one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()
