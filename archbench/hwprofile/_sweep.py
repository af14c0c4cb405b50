"""Batch-size sweep: throughput and memory against batch size, the "hardware limits" study.

Each batch size gets the same measurements as a profile (``measure_infer``, ``measure_train``)
on one model, plus the predicted peak. On CUDA an out-of-memory error (torch's, cuBLAS's or
cuDNN's, by the package's one classifier ``is_oom_error``) ends the measured part of the sweep:
that batch and the larger ones keep only their prediction. Any other error, and cuDNN's "no
engine" at the smallest batch, is a defect and raises. The plot puts images/s
and memory side by side on a log2 batch axis, so the knee where throughput stops growing and
the line where memory runs out are visible together.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from archbench import _dataclass_io
from archbench.hwprofile._device import resolve_device
from archbench.hwprofile._env import environment_stamp
from archbench.hwprofile._max_batch import is_oom_error
from archbench.hwprofile._predict import TrainStepSimulation
from archbench.hwprofile._profile import StepTiming, measure_infer, measure_train
from archbench.hwprofile._timing import MIN_BLOCKS
from archbench.hwprofile._workload import Workload
from archbench.models import ModelConfig

_SWEEP_TIMING = StepTiming(warmup=2, repeats=MIN_BLOCKS, min_block_seconds=0.1)


@dataclass(frozen=True)
class SweepPoint:
    """Figures at one batch size; measured ones are None with a reason in ``unavailable``.

    Each throughput carries its IQR and number of timed blocks, and ``noisy`` (throughput name
    -> why) marks the ones that are noise rather than fact, as in ``ProfileResult``.
    """

    batch_size: int
    predicted_train_memory_bytes: int
    train_images_per_second: float | None = None
    infer_images_per_second: float | None = None
    peak_train_memory_bytes: int | None = None
    peak_infer_memory_bytes: int | None = None
    train_images_per_second_iqr: float | None = None
    infer_images_per_second_iqr: float | None = None
    train_timed_blocks: int | None = None
    infer_timed_blocks: int | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    noisy: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepResult:
    """A sweep's points in increasing batch size, with the environment stamp."""

    points: tuple[SweepPoint, ...]
    env: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return _dataclass_io.to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> SweepResult:
        return _dataclass_io.from_dict(cls, data)


_MEASURED = (
    "train_images_per_second",
    "infer_images_per_second",
    "peak_train_memory_bytes",
    "peak_infer_memory_bytes",
)
_SPREADS = (
    "train_images_per_second_iqr",
    "infer_images_per_second_iqr",
    "train_timed_blocks",
    "infer_timed_blocks",
)


def _measure(workload: Workload, batch_size: int) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for measured in (
        measure_infer(workload, batch_size, _SWEEP_TIMING),
        measure_train(workload, batch_size, _SWEEP_TIMING),
    ):
        missing.update(measured.pop("unavailable"))
        values.setdefault("noisy", {}).update(measured.pop("noisy", {}))
        values.update(measured)
    return values, missing


def sweep_batch_sizes(
    cfg: ModelConfig,
    batch_sizes: Sequence[int],
    *,
    device: str = "auto",
    amp: str | None = None,
    channels_last: bool = False,
    compile: bool = False,
    optimizer: str = "sgd",
) -> SweepResult:
    """Measures and predicts throughput and memory at each batch size.

    Raises:
        ValueError: for an empty list, a batch size below 1, or a bad device.
    """
    sizes = sorted(set(batch_sizes))
    if not sizes or sizes[0] < 1:
        raise ValueError(f"batch sizes: need at least one, all >= 1, got {list(batch_sizes)}")
    dev = resolve_device(device)
    options: dict[str, Any] = {"optimizer": optimizer, "amp": amp, "channels_last": channels_last}
    simulation = TrainStepSimulation(cfg, **options)
    workload = Workload(cfg, dev, compile=compile, **options)
    points = []
    out_of_memory_at: int | None = None
    for batch_size in sizes:
        values: dict[str, Any] = {}
        missing: dict[str, str] = {}
        if out_of_memory_at is None:
            try:
                values, missing = _measure(workload, batch_size)
            except RuntimeError as exc:  # torch's out-of-memory error is one
                if not is_oom_error(exc, batch_size=1 if batch_size == sizes[0] else batch_size):
                    raise
                out_of_memory_at = batch_size
            if out_of_memory_at is not None:  # recovery outside the except block (see _max_batch)
                workload.optimizer.zero_grad(set_to_none=True)
                gc.collect()
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
        if out_of_memory_at is not None:
            missing = dict.fromkeys(_MEASURED, f"out of memory at batch {out_of_memory_at}")
        points.append(
            SweepPoint(
                batch_size=batch_size,
                predicted_train_memory_bytes=simulation.predict(batch_size).total,
                **{name: values[name] for name in (*_MEASURED, *_SPREADS) if name in values},
                unavailable={name: missing[name] for name in _MEASURED if name in missing},
                noisy=values.get("noisy", {}),
            )
        )
    env = environment_stamp(
        dev,
        batch_size=None,
        amp=amp,
        channels_last=channels_last,
        compile=compile,
        optimizer=optimizer,
        level="sweep",
    )
    return SweepResult(points=tuple(points), env=env | {"batch_sizes": sizes})


def plot_sweep(result: SweepResult, path: str | Path, *, title: str) -> Path:
    """Writes a PNG: images/s (left) and memory in MiB (right) against batch size.

    Noisy throughputs (``SweepPoint.noisy``) are hollow markers named in the legend."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, Agg for PNG

    figure = Figure(figsize=(10, 4), layout="constrained")
    speed, memory = figure.subplots(1, 2)
    series = (
        (speed, "train_images_per_second", "training", 1.0),
        (speed, "infer_images_per_second", "inference", 1.0),
        (memory, "peak_train_memory_bytes", "training, measured", 2.0**-20),
        (memory, "predicted_train_memory_bytes", "training, predicted", 2.0**-20),
        (memory, "peak_infer_memory_bytes", "inference, measured", 2.0**-20),
    )
    for axes, name, label, scale in series:
        values = [
            (p.batch_size, getattr(p, name) * scale, name in p.noisy)
            for p in result.points
            if getattr(p, name) is not None
        ]
        if not values:
            continue
        (line,) = axes.plot([v[0] for v in values], [v[1] for v in values], label=label)
        quiet = [(batch, value) for batch, value, noisy in values if not noisy]
        if quiet:
            axes.plot(*zip(*quiet), "o", color=line.get_color())
        noisy = [(batch, value) for batch, value, noisy in values if noisy]
        if noisy:  # never drawn as fact: hollow, and named in the legend
            axes.plot(
                *zip(*noisy),
                "o",
                markerfacecolor="none",
                color=line.get_color(),
                label=f"{label}, noisy timing ({len(noisy)})",
            )
    for axes, ylabel in ((speed, "images / s"), (memory, "peak tensor memory (MiB)")):
        axes.set_xscale("log", base=2)
        axes.set_xlabel("batch size")
        axes.set_ylabel(ylabel)
        axes.grid(True, alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(file, dpi=120)
    return file
