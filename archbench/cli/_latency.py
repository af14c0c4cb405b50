"""``archbench latency predict`` and ``calibrate``: latency on a device we may not have.

The library (``archbench.hwprofile``: ``predict_latency``, ``calibrate``, the device catalogue)
does the work; this module reads configs and measurement files, and prints tables, JSON, CSV
and DEVICE.yaml files.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from archbench._units import parse_count
from archbench.cli._app import app
from archbench.cli._common import JSON_OPTION, console, err_console, fail, print_json, user_errors
from archbench.models import ModelConfig, resolve_config

latency_app = typer.Typer(
    help="Predict latency on a device from its spec (a catalogue name or a DEVICE.yaml), and "
    "calibrate a device from a few measurements.",
    no_args_is_help=True,
)
app.add_typer(latency_app, name="latency")

DEVICE_OPTION = typer.Option(
    ...,
    "--device",
    help="A catalogue name (rtx4090, a100-80gb, titan-rtx, ...; `archbench latency devices`), "
    "cpu (this machine, measured), or a DEVICE.yaml file.",
)
BATCH_OPTION = typer.Option(1, "--batch", help="Images per call.")
BATCHES_OPTION = typer.Option(
    "1",
    "--batch",
    help="Images per call. With --measure, a list such as 1,32 measures every config at each: "
    "two batch sizes tell the fixed costs from the efficiencies.",
)
PRECISION_OPTION = typer.Option("fp32", help="fp32, bf16 or fp16 (autocast).")
TRAIN_OPTION = typer.Option(
    False, "--train", help="A training step (forward, loss, backward, SGD) instead of inference."
)


def _read_column(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a CSV file that has ``columns``.

    Raises:
        ValueError: when the file lacks one of them.
        FileNotFoundError: when there is no file.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in columns if name not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path.name}: no {missing[0]!r} column; the file needs the columns "
                f"{','.join(columns)}"
            )
        return list(reader)


def _configs(specs: list[str], configs_file: Path | None) -> list[tuple[str, ModelConfig]]:
    names = list(specs)
    if configs_file is not None:
        names += [row["config"] for row in _read_column(configs_file, ("config",))]
    if not names:
        raise ValueError("configs: give CONFIG arguments or --configs FILE.csv")
    return [(name, resolve_config(name)) for name in names]


@latency_app.command("devices")
def devices(json_output: bool = JSON_OPTION) -> None:
    """The device catalogue: peak FLOP/s per precision, bandwidth, and where they come from."""
    from archbench.hwprofile import CATALOGUE

    rows = [
        {
            "name": spec.name,
            "kind": spec.kind,
            "fp32_tflops": spec.fp32_flops / 1e12,
            "tf32_tflops": spec.tf32_flops / 1e12,
            "bf16_tflops": None if spec.bf16_flops is None else spec.bf16_flops / 1e12,
            "fp16_tflops": spec.fp16_flops / 1e12,
            "bandwidth_gb_s": spec.memory_bandwidth / 1e9,
            "source": spec.source,
        }
        for spec in CATALOGUE.values()
    ]
    if json_output:
        print_json(rows)
        return
    table = Table(title="Latency devices (and cpu: this machine, measured on use)")
    for column in ("name", "FP32", "TF32", "BF16", "FP16 TFLOP/s", "GB/s", "source"):
        table.add_column(column, overflow="fold", justify="left" if column == "source" else "right")
    for row in rows:
        figures = [row[key] for key in ("fp32_tflops", "tf32_tflops", "bf16_tflops", "fp16_tflops")]
        table.add_row(
            str(row["name"]),
            *("-" if value is None else f"{value:g}" for value in figures),
            f"{row['bandwidth_gb_s']:g}",
            str(row["source"]),
        )
    console.print(table)


@latency_app.command("predict")
def predict(
    config: list[str] = typer.Argument(
        None, help="Presets, config files or NAS-Bench-201 arch strings."
    ),
    device: str = DEVICE_OPTION,
    batch: int = BATCH_OPTION,
    precision: str = PRECISION_OPTION,
    train: bool = TRAIN_OPTION,
    configs: Path | None = typer.Option(
        None, "--configs", help="A CSV file with a `config` column, predicted after CONFIG..."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write the predictions to this .csv or .json file."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Predicted latency (ms) and throughput (img/s) of configs on a device."""
    from archbench.hwprofile import get_device, predict_latency

    with user_errors():
        if out is not None and out.suffix not in (".csv", ".json"):
            raise ValueError(f"--out: {out.name} must end in .csv or .json")
        spec = get_device(device)
        named = _configs(config or [], configs)
        predictions = predict_latency(
            [cfg for _, cfg in named],
            spec,
            batch_size=batch,
            precision=precision,
            train=train,
        )
    rows = [
        {
            "config": name,
            "device": spec.name,
            "batch_size": batch,
            "precision": precision,
            "mode": "train" if train else "inference",
            "latency_ms": round(prediction.ms, 4),
            "images_per_second": round(prediction.images_per_second, 1),
            "kernels": prediction.kernels,
        }
        for (name, _), prediction in zip(named, predictions)
    ]
    if out is not None:
        _write_rows(rows, out)
    if json_output:
        print_json({"device": spec.name, "calibrated": spec.calibration is not None, "rows": rows})
        return
    state = "calibrated" if spec.calibration else "zero-shot defaults"
    table = Table(title=f"Predicted on {spec.name} ({state}), batch {batch}, {precision}")
    for column in ("config", "ms", "img/s", "kernels"):
        table.add_column(column, justify="left" if column == "config" else "right")
    for row in rows:
        table.add_row(
            str(row["config"]),
            f"{row['latency_ms']:.3f}",
            f"{row['images_per_second']:,.1f}",
            str(row["kernels"]),
        )
    console.print(table)
    if out is not None:
        console.print(f"wrote {out}")


def _write_rows(rows: list[dict[str, Any]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".json":
        out.write_text(json.dumps(rows, indent=2) + "\n")
        return
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _cell(path: Path, row: dict[str, str], column: str, default: str = "") -> float:
    text = row.get(column) or default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if column == "batch_size" and not value.is_integer():
        raise ValueError(f"{path.name}: batch_size {text!r} of {row['config']!r} is not whole")
    if math.isnan(value) and text.strip().lower() != "nan":
        raise ValueError(f"{path.name}: {column} {text!r} of {row['config']!r} is not a number")
    return value


def _measurements(
    path: Path, batch: int
) -> tuple[list[tuple[str, ModelConfig]], list[float], list[int]]:
    """Configs, latencies and batch sizes (a ``batch_size`` column, else ``batch``) of a file."""
    rows = _read_column(path, ("config", "latency_ms"))
    latencies = [_cell(path, row, "latency_ms") for row in rows]
    batches = [int(_cell(path, row, "batch_size", str(batch))) for row in rows]
    named = [(row["config"], resolve_config(row["config"])) for row in rows]
    return named, latencies, batches


def _batches(text: str) -> list[int]:
    """``--batch`` of ``calibrate``: one batch size, or with ``--measure`` a list (``1,32``)."""
    try:
        batches = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"batch: {text!r} is not a batch size or a list such as 1,32") from None
    if min(batches) < 1:
        raise ValueError(f"batch: must be >= 1, got {min(batches)}")
    return batches


@latency_app.command("calibrate")
def calibrate_command(
    device: str = DEVICE_OPTION,
    batch: str = BATCHES_OPTION,
    precision: str = PRECISION_OPTION,
    train: bool = TRAIN_OPTION,
    measurements: Path | None = typer.Option(
        None,
        "--measurements",
        help="A CSV file with config,latency_ms columns (and batch_size, else --batch).",
    ),
    measure: bool = typer.Option(
        False,
        "--measure",
        help="Measure seeded configs of every family here instead (--device cpu or cuda).",
    ),
    count: int = typer.Option(10, "--count", help="With --measure: how many configs."),
    seed: int = typer.Option(0, "--seed", help="With --measure: which configs."),
    max_flops: str = typer.Option(
        "200M", "--max-flops", help="With --measure: forward FLOPs cap of the drawn configs."
    ),
    spec_name: str | None = typer.Option(
        None,
        "--spec",
        help="With --measure --device cuda: the catalogue entry of this GPU (default: matched "
        "from its name).",
    ),
    out: Path = typer.Option(..., "--out", help="The DEVICE.yaml file to write."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Fit a device's efficiencies, launch and overhead to measured latencies; write DEVICE.yaml."""
    from archbench.hwprofile import calibrate, get_device, save_device

    if measure == (measurements is not None):
        fail("calibrate: give either --measurements FILE.csv or --measure")
    with user_errors():
        asked = _batches(batch)
        if measure:
            cap = parse_count(max_flops, "max_flops")
            spec, named, latencies, batches = _measure_here(
                device, spec_name, count, seed, cap, asked, precision
            )
        else:
            assert measurements is not None
            if len(asked) > 1:
                raise ValueError(
                    "batch: give one with --measurements (a batch_size column gives one per row)"
                )
            spec = get_device(device)
            named, latencies, batches = _measurements(measurements, asked[0])
        fitted = calibrate(
            [cfg for _, cfg in named],
            latencies,
            spec,
            batch_size=batches,
            precision=precision,
            train=train,
        )
        save_device(fitted, out)
    calibration = fitted.calibration
    assert calibration is not None
    if json_output:
        print_json(
            {
                "device": fitted.name,
                "out": str(out),
                "params": calibration.params.__dict__,
                "measurements": calibration.measurements,
                "median_relative_error": calibration.median_relative_error,
            }
        )
        return
    p = calibration.params
    console.print(
        f"{fitted.name}: compute efficiency {p.compute_efficiency:.3f}, memory efficiency "
        f"{p.memory_efficiency:.3f}, launch {p.launch_us:.1f} us (+{p.compute_launch_us:.1f} us "
        f"per convolution or matmul), overhead {p.overhead_ms:.3f} ms, pooling window reads "
        f"{p.cache_speedup:.2f}x the memory rate; median error "
        f"{calibration.median_relative_error:.1%} over {calibration.measurements} measurements"
    )
    console.print(f"wrote {out}")


def _measure_here(
    device: str,
    spec_name: str | None,
    count: int,
    seed: int,
    max_flops: int,
    batches: list[int],
    precision: str,
) -> tuple[Any, list[tuple[str, ModelConfig]], list[float], list[int]]:
    """Measures ``count`` seeded configs on this machine's ``device`` (cpu or cuda[:N]), each
    at every batch size of ``batches``."""
    from archbench.hwprofile import (
        get_device,
        match_gpu,
        measure_latency_ms,
        resolve_device,
        seeded_configs,
    )

    dev = resolve_device(device)
    if dev.type == "cpu":
        spec = get_device("cpu")
    elif spec_name is not None:
        spec = get_device(spec_name)
    else:
        import torch

        name = torch.cuda.get_device_name(dev)
        matched = match_gpu(name)
        if matched is None:
            raise ValueError(f"--spec: {name} is not in the catalogue; name the closest entry")
        spec = matched
    configs = seeded_configs(count, seed=seed, max_flops=max_flops)
    runs = [(cfg, batch) for cfg in configs for batch in batches]
    latencies = []
    with err_console.status(f"measuring {count} configs on {dev}") as status:
        for i, (cfg, batch) in enumerate(runs, 1):
            status.update(f"measuring {i}/{len(runs)} ({cfg.family}, batch {batch}) on {dev}")
            ms = measure_latency_ms(cfg, device=str(dev), batch_size=batch, precision=precision)
            latencies.append(ms)
    named = [(cfg.family, cfg) for cfg, _ in runs]
    return spec, named, latencies, [batch for _, batch in runs]


def predicted_figures(
    cfg: ModelConfig, spec: Any, batch_size: int, amp: str | None
) -> dict[str, Any]:
    """What ``archbench profile --predict-on`` shows beside the measured figures."""
    from archbench.hwprofile import predict_latency

    precision = amp or "fp32"
    single = predict_latency([cfg], spec, batch_size=1, precision=precision)[0]
    infer = predict_latency([cfg], spec, batch_size=batch_size, precision=precision)[0]
    train = predict_latency([cfg], spec, batch_size=batch_size, precision=precision, train=True)[0]
    return {
        "device": spec.name,
        "calibrated": spec.calibration is not None,
        "latency_ms_median": single.ms,
        "infer_images_per_second": infer.images_per_second,
        "train_images_per_second": train.images_per_second,
    }


def predicted_table(measured_on: str, measured: dict[str, Any], predicted: dict[str, Any]) -> Table:
    state = "calibrated" if predicted["calibrated"] else "zero-shot"
    table = Table(title=f"Measured on {measured_on}, predicted on {predicted['device']} ({state})")
    for column in ("figure", f"measured ({measured_on})", f"predicted ({predicted['device']})"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for label, name, fmt in (
        ("latency, batch 1", "latency_ms_median", "{:.3f} ms"),
        ("inference images/s", "infer_images_per_second", "{:,.1f}"),
        ("training images/s", "train_images_per_second", "{:,.1f}"),
    ):
        value = measured.get(name)
        table.add_row(
            label, "n/a" if value is None else fmt.format(value), fmt.format(predicted[name])
        )
    return table
