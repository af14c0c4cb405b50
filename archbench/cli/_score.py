"""``archbench score``: zero-cost scores of one config, of a file of configs, or of seeded
feasible samples of a space."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from archbench._units import format_count, parse_count
from archbench.cli._app import app
from archbench.cli._common import (
    DATA_DIR_OPTION,
    JSON_OPTION,
    console,
    err_console,
    fail,
    print_json,
    user_errors,
)

if TYPE_CHECKING:
    from archbench.models import ModelConfig
    from archbench.zerocost import Batch

DEFAULT_SAMPLES = 20
SCORES_HELP = (
    "Comma-separated: params, flops, synflow, snip, grad_norm, naswot, zico, ensemble (mean rank "
    "of the others; --space only), or all."
)


@app.command("score")
def score(
    config: str = typer.Argument(
        None,
        help="A preset name, an nb201 arch string or a config / exported YAML file "
        "(or use --configs or --space).",
    ),
    configs: str = typer.Option(
        None,
        "--configs",
        help="Score every CONFIG of this file, one a line, in one process (# starts a comment).",
    ),
    space: str = typer.Option(None, help="Score seeded feasible samples of this space instead."),
    max_params: str = typer.Option("5M", help="--space: parameter budget, e.g. 5M or 500k."),
    max_flops: str = typer.Option(None, help="--space: forward FLOPs cap per image, e.g. 60M."),
    samples: int = typer.Option(DEFAULT_SAMPLES, help="--space: how many configs to score."),
    scores: str = typer.Option("all", help=SCORES_HELP),
    dataset: str = typer.Option(
        "mnist5k",
        help="Data set whose shape and classes the configs take, and whose batches the "
        "data-dependent scores read (params, flops and synflow need no files).",
    ),
    data_dir: str = DATA_DIR_OPTION,
    batch_size: int = typer.Option(None, help="Images scored per config (default 32)."),
    seed: int = typer.Option(0, help="Seeds the samples, the batch and the initial weights."),
    device: str = typer.Option("cpu", help="cpu, cuda[:N] or auto."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Zero-cost scores at initialisation: one config, a file of configs, or a space's samples."""
    from archbench.hwprofile import resolve_device
    from archbench.zerocost import DEFAULT_BATCH_SIZE, resolve_scores

    if sum(given is not None for given in (config, configs, space)) != 1:
        fail(
            "score: give exactly one of CONFIG (a preset, arch string or config file), "
            "--configs FILE and --space NAME"
        )
    with user_errors():
        names = resolve_scores([name.strip() for name in scores.split(",")])
        if config is not None and scores == "all":
            names = [name for name in names if name != "ensemble"]
        elif config is not None and "ensemble" in names:
            raise ValueError("scores: ensemble ranks a set of configs; use it with --space")
        device = str(resolve_device(device))
        batch_size = batch_size or DEFAULT_BATCH_SIZE
        if batch_size < 2:
            raise ValueError(f"batch_size: needs at least 2 images, got {batch_size}")
        if samples < 1:
            raise ValueError(f"samples: must be at least 1, got {samples}")
        settings: dict[str, Any] = {
            "dataset": dataset,
            "batch_size": batch_size,
            "seed": seed,
            "scores": names,
        }
        if config is not None:
            _score_one(config, names, settings, data_dir, device, json_output)
        elif configs is not None:
            _score_file(configs, names, settings, data_dir, device, json_output)
        else:
            budget = {"max_params": max_params, "max_flops": max_flops, "samples": samples}
            _score_space(space, budget, names, settings, data_dir, device, json_output)


def _score_one(
    spec: str,
    names: list[str],
    settings: dict[str, Any],
    data_dir: str | None,
    device: str,
    json_output: bool,
) -> None:
    from archbench.models import resolve_config
    from archbench.zerocost import score_config

    cfg = _with_data(resolve_config(spec), settings["dataset"], data_dir)
    batches = _batches(names, settings, data_dir, device)
    started = time.perf_counter()
    values = score_config(cfg, names, batches=batches, seed=settings["seed"], device=device)
    seconds = time.perf_counter() - started
    if json_output:
        print_json(
            {"config": spec, "family": cfg.family, **settings, "seconds": seconds, "values": values}
        )
        return
    table = Table(
        title=f"{spec} ({cfg.family}) at initialisation on {settings['batch_size']} "
        f"{settings['dataset']} images, seed {settings['seed']}: {seconds:.2f}s"
    )
    table.add_column("score")
    table.add_column("value", justify="right")
    for name, value in values.items():
        table.add_row(name, _format(name, value))
    console.print(table)


def _read_specs(path: str) -> list[str]:
    """The CONFIG of each line of ``path``; blank lines and ``#`` comments are skipped."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"configs: {path}: no such file")
    specs = [line.strip() for line in file.read_text().splitlines()]
    specs = [spec for spec in specs if spec and not spec.startswith("#")]
    if not specs:
        raise ValueError(f"configs: {path} lists no config")
    return specs


def _score_file(
    path: str,
    names: list[str],
    settings: dict[str, Any],
    data_dir: str | None,
    device: str,
    json_output: bool,
) -> None:
    from archbench.models import count_params, resolve_config

    specs = _read_specs(path)
    cfgs = []
    for number, spec in enumerate(specs, 1):
        try:
            cfgs.append(_with_data(resolve_config(spec), settings["dataset"], data_dir))
        except ValueError as exc:
            raise ValueError(f"{path}: config {number} ({spec}): {exc}") from None
    rows, order_by, ranked, seconds = _score_ranked(
        cfgs, names, f"scoring {len(cfgs)} configs of {path}", settings, data_dir, device,
        quiet=json_output,
    )  # fmt: skip
    ranks = {index: rank for rank, index in enumerate(ranked, 1)}
    scored: list[dict[str, Any]] = [
        {
            "spec": spec,
            "rank": ranks[index],
            "family": cfg.family,
            "n_params": count_params(cfg),
            "values": row,
            "config": cfg.to_dict(),
        }
        for index, (spec, cfg, row) in enumerate(zip(specs, cfgs, rows))
    ]
    if json_output:
        print_json(
            {
                "configs_file": path,
                **settings,
                "order_by": order_by,
                "seconds": seconds,
                "configs": scored,
            }
        )
        return
    table = Table(
        title=f"{path}: {len(cfgs)} configs at initialisation on {settings['dataset']}, "
        f"rank by {order_by}; scored in {seconds:.1f}s"
    )
    for column in ("rank", "config", "n params", *names):
        table.add_column(column, justify="left" if column == "config" else "right")
    for row in scored:
        values = [_format(name, row["values"][name]) for name in names]
        table.add_row(str(row["rank"]), row["spec"], format_count(row["n_params"]), *values)
    console.print(table)


def _score_space(
    space_name: str,
    limits: dict[str, Any],
    names: list[str],
    settings: dict[str, Any],
    data_dir: str | None,
    device: str,
    json_output: bool,
) -> None:
    from archbench.budget import Budget, ensure_feasible
    from archbench.models import count_params
    from archbench.spaces import get_space
    from archbench.zerocost import feasible_pool

    space = get_space(space_name)
    budget = Budget(
        max_params=parse_count(limits["max_params"], "max_params"),
        max_flops=parse_count(limits["max_flops"], "max_flops") if limits["max_flops"] else None,
    )
    shape = _data_shape(settings["dataset"], data_dir)
    ensure_feasible(space, budget, shape)
    pool = feasible_pool(space, budget, shape, limits["samples"], settings["seed"])
    rows, order_by, ranked, seconds = _score_ranked(
        [candidate.config for candidate in pool], names,
        f"scoring {len(pool)} configs of {space.name}", settings, data_dir, device,
        quiet=json_output,
    )  # fmt: skip
    configs: list[dict[str, Any]] = [
        {
            "rank": rank,
            "sample": index,
            "n_params": count_params(pool[index].config),
            "params": pool[index].params,
            "values": rows[index],
            "config": pool[index].config.to_dict(),
        }
        for rank, index in enumerate(ranked, 1)
    ]
    if json_output:
        print_json(
            {
                "space": space.name,
                "max_params": budget.max_params,
                "max_flops": budget.max_flops,
                **settings,
                "order_by": order_by,
                "seconds": seconds,
                "configs": configs,
            }
        )
        return
    table = Table(
        title=f"{space.name}: {len(pool)} feasible samples under {format_count(budget.max_params)} "
        f"params for {shape.in_channels}x{shape.input_size}x{shape.input_size} inputs and "
        f"{shape.num_classes} classes ({settings['dataset']}), best {order_by} first; "
        f"scored in {seconds:.1f}s"
    )
    counted = "params" not in names  # the params score is the count: one column, not two
    for column in ("rank", "sample", *(["params"] if counted else []), *names):
        table.add_column(column, justify="right")
    table.add_column("knobs", overflow="fold")
    for row in configs:
        knobs = " ".join(f"{key}={value}" for key, value in row["params"].items())
        values = [_format(name, row["values"][name]) for name in names]
        count = [format_count(row["n_params"])] if counted else []
        table.add_row(str(row["rank"]), str(row["sample"]), *count, *values, knobs)
    console.print(table)


def _score_ranked(
    configs: list[ModelConfig],
    names: list[str],
    status: str,
    settings: dict[str, Any],
    data_dir: str | None,
    device: str,
    *,
    quiet: bool,
) -> tuple[list[dict[str, float]], str, list[int], float]:
    """Scores ``configs`` under a spinner on stderr that counts them.

    Returns:
        Their scores, the score they are ranked by, their indices best first, and the seconds
        the scoring took.
    """
    from archbench.zerocost import best_first, ranking_score, score_configs

    batches = _batches(names, settings, data_dir, device)
    started = time.perf_counter()
    spinner = contextlib.nullcontext() if quiet else err_console.status(status)
    with spinner as view:

        def show(index: int, _: dict[str, float]) -> None:
            if view is not None:
                view.update(f"{status}: {index + 1} done")

        rows = score_configs(
            configs, names, batches=batches, seed=settings["seed"], device=device, on_scored=show
        )
    order_by = ranking_score(names)
    return rows, order_by, best_first(rows, order_by), time.perf_counter() - started


def _data_shape(dataset: str, data_dir: str | None) -> Any:
    from archbench.data import dataset_info
    from archbench.spaces import DataShape

    info = dataset_info(dataset, data_dir)
    channels, size, _ = info.shape
    return DataShape(info.num_classes, channels, size)


def _with_data(cfg: ModelConfig, dataset: str, data_dir: str | None) -> ModelConfig:
    shape = _data_shape(dataset, data_dir)
    return cfg.with_data(
        num_classes=shape.num_classes, in_channels=shape.in_channels, input_size=shape.input_size
    )


def _batches(
    names: list[str], settings: dict[str, Any], data_dir: str | None, device: str
) -> list[Batch]:
    """The scoring batch of the search's training split, loaded only when a score needs data."""
    from archbench.data import load_dataset, split_train_val
    from archbench.zerocost import needs_data, scoring_batches

    if not needs_data(names):
        return []
    train, _ = split_train_val(load_dataset(settings["dataset"], "train", data_dir))
    return scoring_batches(
        train, batch_size=settings["batch_size"], seed=settings["seed"], device=device
    )


def _format(name: str, value: float) -> str:
    if name in ("params", "flops"):
        return format_count(value)
    return f"{value:.4g}"
