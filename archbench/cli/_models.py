"""``archbench spaces``, ``presets`` and ``count``: what can be searched and what a config costs."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from archbench._units import format_count
from archbench.cli._app import app
from archbench.cli._common import JSON_OPTION, console, print_json, user_errors
from archbench.models import PRESETS, count_params, forward_flops, resolve_config
from archbench.spaces import DataShape, SearchSpace, get_space, list_spaces

spaces_app = typer.Typer(
    help="List the search spaces, or show one.", invoke_without_command=True, no_args_is_help=False
)
app.add_typer(spaces_app, name="spaces")


# The counts of ``spaces`` are for this shape: a data set's channels, size and classes change
# the stem and the classifier (``score --space`` and ``search`` count for their data set).
SHAPE = DataShape()
SHAPE_TEXT = (
    f"{SHAPE.in_channels}x{SHAPE.input_size}x{SHAPE.input_size} inputs, {SHAPE.num_classes} classes"
)


def _space_summary(space: SearchSpace) -> dict[str, Any]:
    return {
        "name": space.name,
        "family": space.family,
        "knobs": len(space.params),
        "size": space.size(),
        "min_params": space.min_params(SHAPE),
        "max_params": space.max_params(SHAPE),
        "input": [SHAPE.in_channels, SHAPE.input_size, SHAPE.input_size],
        "num_classes": SHAPE.num_classes,
        "description": space.description,
    }


@spaces_app.callback()
def spaces(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """List the search spaces: knobs, size and the range of parameter counts."""
    if ctx.invoked_subcommand is not None:
        return
    rows = [_space_summary(get_space(name)) for name in list_spaces()]
    if json_output:
        print_json(rows)
        return
    table = Table(title=f"Search spaces (counts for {SHAPE_TEXT})")
    for column in ("space", "family", "knobs", "size", "min params", "max params", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["name"],
            row["family"],
            str(row["knobs"]),
            f"{row['size']:.3g}" if row["size"] else "infinite",
            format_count(row["min_params"]),
            format_count(row["max_params"]),
            row["description"],
        )
    console.print(table)


@spaces_app.command("show")
def spaces_show(
    name: str = typer.Argument(..., help="A space name or a space YAML/JSON file."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Show the knobs of one space; the JSON form is a valid space file.

    Its ``summary`` (knobs, size, parameter range) is derived; the loader ignores it.
    """
    with user_errors():
        space = get_space(name)
        summary = _space_summary(space)
    if json_output:
        derived = {
            k: summary[k]
            for k in ("knobs", "size", "min_params", "max_params", "input", "num_classes")
        }
        print_json({**space.to_dict(), "summary": derived})
        return
    table = Table(
        title=f"space {space.name} ({space.family}): {summary['knobs']} knobs, "
        f"params {format_count(summary['min_params'])} to {format_count(summary['max_params'])} "
        f"for {SHAPE_TEXT}"
    )
    for column in ("knob", "type", "values", "active if"):
        table.add_column(column, overflow="fold")
    for knob, param in space.params.items():
        data = param.to_dict()
        condition = data.pop("active_if", None)
        kind = data.pop("type")
        values = ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, False))
        when = f"{condition['param']} in {condition['values']}" if condition else ""
        table.add_row(knob, kind, values, when)
    console.print(table)


@app.command("presets")
def presets(json_output: bool = JSON_OPTION) -> None:
    """List the seed and reference architectures with their exact parameter counts."""
    rows: list[dict[str, Any]] = [
        {
            "name": preset.name,
            "family": preset.to_config().family,
            "params": count_params(preset.to_config()),
            "source": preset.source,
        }
        for preset in PRESETS.values()
    ]
    if json_output:
        print_json(rows)
        return
    table = Table(title="Presets (3x32x32 inputs, 10 classes)")
    for column in ("preset", "family", "params", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["family"], f"{row['params']:,}", row["source"])
    console.print(table)


@app.command("count")
def count(
    config: str = typer.Argument(..., help="A preset name or a config / exported YAML file."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Exact parameter count, forward FLOPs and MACs (batch 1), all analytic: no model is built.

    The train-step FLOPs, which need a backward pass traced on the meta device, are in
    ``archbench profile``.
    """
    with user_errors():
        cfg = resolve_config(config)
    flops = forward_flops(cfg)
    result = {
        "config": config,
        "family": cfg.family,
        "params": count_params(cfg),
        "flops": flops,
        "macs": flops // 2,
        "input": [cfg.in_channels, cfg.input_size, cfg.input_size],
        "num_classes": cfg.num_classes,
    }
    if json_output:
        print_json(result)
        return
    table = Table(
        title=f"{config} ({cfg.family}, input {cfg.in_channels}x{cfg.input_size}x{cfg.input_size})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("params", f"{result['params']:,}")
    table.add_row("FLOPs (forward, 1 image)", f"{result['flops']:,}")
    table.add_row("MACs (forward, 1 image)", f"{result['macs']:,}")
    console.print(table)
