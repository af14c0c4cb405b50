"""The typer application that every command module registers on, and the top-level options."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="archbench",
    help="Architecture search and hardware benchmarks for small-image CNNs under a budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        import archbench

        print(f"archbench {archbench.__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Options of ``archbench`` itself, before any command."""
