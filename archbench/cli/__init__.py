"""The ``archbench`` command line: thin typer commands over the library.

Each ``_*.py`` module registers the commands of one subpackage on ``app`` (``_app.py``) and
imports the heavy libraries (torch, optuna, matplotlib, ray) inside its commands, so that
``--help`` and the pure-Python commands start at once. ``main`` is the console-script entry
point and enforces the error contract (one line on stderr, exit 2).
"""

from __future__ import annotations

import sys

import typer

# Each module registers its commands on ``app`` when imported.
from archbench.cli import (  # noqa: F401
    _data,
    _fidelity,
    _latency,
    _models,
    _profile,
    _results,
    _score,
    _search,
    _train,
)
from archbench.cli._app import app
from archbench.cli._common import EXIT_USAGE, UserError


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI; bad input exits 2 with one line on stderr."""
    try:
        code = app(args=argv, prog_name="archbench", standalone_mode=False)
    except UserError as exc:
        print(f"archbench: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except (KeyboardInterrupt, typer.Abort):
        print("archbench: interrupted; stored results are kept", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        # Usage errors of typer (and of the click it is built on in older releases) carry a
        # message and an exit code; anything else is a bug and keeps its traceback.
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        print(f"archbench: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else 0)
