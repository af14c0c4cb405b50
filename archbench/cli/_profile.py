"""``archbench profile``: what a preset or config costs on hardware (``archbench.hwprofile``).

The library returns a ``ProfileResult`` or a ``SweepResult``; this module formats it as a rich
table or one JSON document, and writes result files named by their environment (timm's
``results/`` convention) when ``--out`` is given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text

from archbench._dataclass_io import write_mapping
from archbench._units import format_bytes, format_count
from archbench.cli._app import app
from archbench.cli._common import (
    DEVICE_OPTION,
    JSON_OPTION,
    console,
    err_console,
    fail,
    print_json,
    user_errors,
)
from archbench.models import PRESETS, resolve_config

if TYPE_CHECKING:
    from archbench.hwprofile import MemoryPrediction, ProfileResult, SweepResult
    from archbench.models import ModelConfig


def _rate(value: float) -> str:
    return f"{value:,.1f}"


def _milliseconds(value: float) -> str:
    return f"{value:.2f} ms"


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _integer(value: int) -> str:
    return f"{value:,}"


_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("params", "n_params", _integer),
    ("model size (fp32)", "model_bytes_fp32", format_bytes),
    ("model size (fp16)", "model_bytes_fp16", format_bytes),
    ("FLOPs (forward, 1 image)", "flops", format_count),
    ("MACs (forward, 1 image)", "macs", format_count),
    ("FLOPs (train step, 1 image)", "train_step_flops", format_count),
    ("fvcore MACs (cross-check)", "fvcore_macs", format_count),
    ("latency, batch 1 (median)", "latency_ms_median", _milliseconds),
    ("latency, batch 1 (p90)", "latency_ms_p90", _milliseconds),
    ("latency, batch 1 (IQR)", "latency_ms_iqr", _milliseconds),
    ("inference images/s", "infer_images_per_second", _rate),
    ("training images/s", "train_images_per_second", _rate),
    ("compile time", "compile_seconds", _seconds),
    ("peak train memory (tensors)", "peak_train_memory_bytes", format_bytes),
    ("peak inference memory (tensors)", "peak_infer_memory_bytes", format_bytes),
    ("peak train memory reserved", "peak_train_reserved_bytes", format_bytes),
    ("device memory used (NVML)", "peak_train_device_used_bytes", format_bytes),
    ("process peak RSS (training)", "peak_train_rss_bytes", format_bytes),
    ("predicted train memory", "predicted_train_memory_bytes", format_bytes),
    ("predicted max batch", "predicted_max_batch_size", _integer),
    ("max batch (measured)", "max_batch_size", _integer),
    ("max batch (safe, -10%)", "max_batch_size_safe", _integer),
)


def _profile_table(title: str, result: ProfileResult) -> Table:
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("note", overflow="fold", style="dim")
    for label, name, fmt in _ROWS:
        value = getattr(result, name)
        note = result.notes.get(name, "")
        if name == "predicted_train_memory_bytes" and result.predicted_train_memory:
            note = _memory_note(result.predicted_train_memory)
        if name == "predicted_max_batch_size" and result.predicted_for_memory_bytes:
            note = f"for {format_bytes(result.predicted_for_memory_bytes)} of GPU memory"
        # Text, not markup: reasons such as "pip install 'archbench[fvcore]'" hold brackets.
        if value is None:
            table.add_row(label, "n/a", Text(result.unavailable.get(name, "")))
        else:
            table.add_row(label, fmt(value), Text(note))
    return table


def _memory_note(split: MemoryPrediction) -> str:
    """What was alive at the peak (during backward: only part of the gradients), and beside it
    the steady-state sizes a step holds once backward and the optimizer step are done."""
    note = (
        f"at the peak: params {format_bytes(split.params)}, "
        f"gradients {format_bytes(split.gradients)}, "
        f"optimizer {format_bytes(split.optimizer_state)}, "
        f"activations {format_bytes(split.activations)}"
    )
    if split.steady_gradients is None or split.steady_optimizer_state is None:
        return note
    return (
        f"{note}; steady state: params {format_bytes(split.params)}, "
        f"gradients {format_bytes(split.steady_gradients)}, "
        f"optimizer {format_bytes(split.steady_optimizer_state)}"
    )


def _sweep_table(title: str, result: SweepResult) -> Table:
    columns = (
        ("train images/s", "train_images_per_second", _rate),
        ("inference images/s", "infer_images_per_second", _rate),
        ("peak train memory", "peak_train_memory_bytes", format_bytes),
        ("predicted train memory", "predicted_train_memory_bytes", format_bytes),
        ("peak inference memory", "peak_infer_memory_bytes", format_bytes),
    )
    table = Table(title=title)
    table.add_column("batch", justify="right")
    for heading, _, _ in columns:
        table.add_column(heading, justify="right")
    for point in result.points:
        cells = [str(point.batch_size)]
        for _, name, fmt in columns:
            value = getattr(point, name)
            cells.append("n/a" if value is None else fmt(value))
        table.add_row(*cells)
    return table


def _batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"sweep: cannot read {text!r}; write batch sizes like 16,32,64") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"sweep: {text!r} needs at least one batch size, all >= 1")
    return sizes


OUT_OPTION = typer.Option(
    None, help="Folder for result files named by environment (the sweep plot goes to . else)."
)


@app.command("profile")
def profile(
    config: str = typer.Argument(..., help="A preset name or a config / exported YAML file."),
    device: str = DEVICE_OPTION,
    batch_size: int = typer.Option(128, help="Batch size of the throughput and memory figures."),
    max_batch: bool = typer.Option(
        False, "--max-batch", help="Measure the largest training batch on the CUDA device."
    ),
    memory: str | None = typer.Option(
        None,
        help="Predict the largest training batch for this GPU memory: a size (24GiB) or a GPU "
        "name (rtx3060, rtx4090, a100-40gb, a100-80gb, h100-80gb, ...).",
    ),
    memory_limit: str | None = typer.Option(
        None,
        "--memory-limit",
        help="On CUDA, measure as if the card had only this much memory (24GiB): caps the "
        "allocator, so --max-batch answers 'would it fit on a smaller card?'.",
    ),
    sweep: str | None = typer.Option(
        None, help="Batch sizes to sweep instead, e.g. 16,32,64,128: a table and a PNG plot."
    ),
    amp: str | None = typer.Option(None, help="Mixed precision: bf16 or fp16 (default fp32)."),
    channels_last: bool = typer.Option(False, "--channels-last", help="NHWC memory format."),
    compile: bool = typer.Option(
        False, "--compile", help="torch.compile the model; compile time is reported apart."
    ),
    level: str = typer.Option("full", help="full, or basic (the cheap profile of a search)."),
    optimizer: str = typer.Option("sgd", help="Optimizer of the training step: sgd or adamw."),
    json_output: bool = JSON_OPTION,
    out: Path | None = OUT_OPTION,
    predict_on: str | None = typer.Option(
        None,
        "--predict-on",
        help="Also predict latency and throughput on this device (a catalogue name such as "
        "rtx4090, or a DEVICE.yaml; see `archbench latency devices`) beside the measured ones.",
    ),
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        help="Profile at this data set's image size, channels and classes: a name or an image "
        "folder or its archive (default: the config's own).",
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data root of --dataset."),
) -> None:
    """Hardware profile: params, FLOPs, latency, throughput, memory, max batch (or a sweep)."""
    from archbench.hwprofile import get_device, resolve_memory

    with user_errors():
        cfg = _config_for(config, dataset, data_dir)
        memory_bytes = resolve_memory(memory) if memory is not None else None
        limit_bytes = resolve_memory(memory_limit) if memory_limit is not None else None
        sizes = _batch_sizes(sweep) if sweep is not None else None
        target = get_device(predict_on) if predict_on is not None else None
    if sizes and (target is not None or max_batch or memory_bytes or limit_bytes):
        fail(
            "--sweep measures its own batch sizes; run --predict-on, --max-batch, --memory or "
            "--memory-limit without it"
        )
    model = config if config in PRESETS else Path(config).stem
    document: dict[str, Any] = {"model": model, "config": cfg.to_dict()}
    status = f"profiling {model} ({f'sweep {sweep}' if sizes else level})"
    spinner = contextlib.nullcontext() if json_output else err_console.status(status)
    options: dict[str, Any] = {"device": device, "amp": amp, "channels_last": channels_last}
    options |= {"compile": compile, "optimizer": optimizer}
    with user_errors(), spinner:
        if sizes:
            from archbench.hwprofile import sweep_batch_sizes

            result: Any = sweep_batch_sizes(cfg, sizes, **options)
            document["sweep"] = result.to_dict()
        else:
            result = _profile_once(
                cfg, document, target, batch_size=batch_size, level=level, memory=memory_bytes,
                memory_limit=limit_bytes, max_batch=max_batch, **options,
            )  # fmt: skip
    files = _write_files(document, result, model, out, sweep=bool(sizes))
    if json_output:
        print_json(document)
        return
    _print_result(result, model, document.get("predicted_on"), sweep=bool(sizes))
    for file in files:
        console.print(f"wrote {file}")


def _profile_once(
    cfg: ModelConfig, document: dict[str, Any], target: Any, **options: Any
) -> ProfileResult:
    """One ``profile_model`` into ``document``, with the ``--predict-on`` figures beside it."""
    from archbench.hwprofile import profile_model

    result = profile_model(cfg, **options)
    document["profile"] = result.to_dict()
    if target is not None:
        from archbench.cli._latency import predicted_figures

        batch = result.env["batch_size"]
        document["predicted_on"] = predicted_figures(cfg, target, batch, options["amp"])
    return result


def _config_for(config: str, dataset: str | None, data_dir: Path | None) -> ModelConfig:
    """``config`` resolved, at ``dataset``'s image size, channels and classes if one is given."""
    cfg = resolve_config(config)
    if dataset is None:
        return cfg
    from archbench.data import dataset_info

    info = dataset_info(dataset, data_dir)
    return cfg.with_data(
        num_classes=info.num_classes, in_channels=info.shape[0], input_size=info.shape[1]
    )


def _write_files(
    document: dict[str, Any], result: Any, model: str, out: Path | None, *, sweep: bool
) -> list[Path]:
    """The sweep's plot (in ``out``, else here) and, with ``out``, the result file; their
    paths go into ``document`` first."""
    from archbench.hwprofile import plot_sweep, result_filename

    kind = "sweep" if sweep else "profile"
    files: list[Path] = []
    if sweep:
        plot = (out or Path(".")) / result_filename(result.env, model, kind=kind, suffix=".png")
        title = f"{model} on {result.env['device_name']} ({result.env['precision']})"
        files.append(plot_sweep(result, plot, title=title))
    if out is not None:
        files.append(out / result_filename(result.env, model, kind=kind))
    document["files"] = [str(file) for file in files]
    if out is not None:
        write_mapping(document, files[-1])
    return files


def _print_result(
    result: Any, model: str, predicted_on: dict[str, Any] | None, *, sweep: bool
) -> None:
    env = result.env
    title = (
        f"{model} on {env['device_name']} ({env['device']}), {env['precision']}, "
        f"{env['memory_format']}"
    )
    if sweep:
        console.print(_sweep_table(title, result))
        return
    console.print(_profile_table(f"{title}, batch {env['batch_size']}", result))
    if predicted_on is not None:
        from archbench.cli._latency import predicted_table

        console.print(predicted_table(str(env["device_name"]), result.to_dict(), predicted_on))
    shown = {name for _, name, _ in _ROWS}
    for name, note in result.notes.items():
        if name not in shown:
            console.print(f"note on {name}: {note}")
