"""Measured latency to calibrate and check the cost model of ``_latency.py`` on this machine.

``measure_latency_ms`` times an inference call as the profiler times its batch-1 latency
(``Workload.infer_step`` under ``Timer.adaptive_autorange``, synchronized), at any batch size.
``seeded_configs`` draws the configs of ``archbench latency calibrate --measure`` from the
built-in spaces, and ``check_latency_model`` measures them on a device and reports how the
catalogue entry predicts them, before (zero-shot) and after a 10-shot calibration.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archbench.hwprofile._devices import DeviceSpec, match_gpu
from archbench.hwprofile._latency import MIN_MEASUREMENTS, TraceSet, fit_params, trace_kernels
from archbench.models import ModelConfig, count_params, forward_flops

CHECK_FAMILIES = ("resnet", "vgg", "branchnet", "nb201")
MAX_DRAWS = 10_000  # per config: a cap no family meets must fail, not loop


def measure_latency_ms(
    cfg: ModelConfig,
    *,
    device: str = "cpu",
    batch_size: int = 1,
    precision: str = "fp32",
    seconds: float = 0.5,
    fastest: bool = False,
) -> float:
    """Median milliseconds of one inference call at ``batch_size`` on ``device``, or with
    ``fastest`` those of the fastest timed block: on a shared machine other processes only ever
    add time, and by how much changes from one config to the next (on the 2-core development
    machine at load 4, medians came out 2-4 times the unloaded time), so the fastest block is
    the steadier estimate of the call's own time (``timeit``'s advice).

    Raises:
        ValueError: for a device this machine lacks, or a precision it cannot run.
    """
    from archbench.hwprofile._device import resolve_device
    from archbench.hwprofile._timing import time_call, time_latency
    from archbench.hwprofile._workload import Workload

    dev = resolve_device(device)
    workload = Workload(cfg, dev, amp=None if precision == "fp32" else precision)
    images, _ = workload.batch(batch_size)
    time_call(lambda: workload.infer_step(images), dev)  # first call: allocation, autotuning
    stats = time_latency(
        lambda: workload.infer_step(images),
        dev,
        min_run_time=seconds / 10,
        max_run_time=seconds,
    )
    return 1e3 * (min(stats.seconds) if fastest else stats.median)


def seeded_configs(
    count: int,
    *,
    seed: int = 0,
    families: Sequence[str] = CHECK_FAMILIES,
    max_params: int = 3_000_000,
    max_flops: int | None = None,
) -> list[ModelConfig]:
    """``count`` configs drawn in turn from the built-in spaces of ``families``, each under
    ``max_params`` parameters and ``max_flops`` forward FLOPs (so that a CPU measures them in
    seconds). Same seed, same configs.

    Raises:
        ValueError: when a family's space yields no config under the caps in ``MAX_DRAWS``
            draws (nb201's smallest net, for one, has about 15M FLOPs).
    """
    from archbench.spaces import get_space

    rng = random.Random(seed)
    spaces = [get_space(name) for name in families]
    configs: list[ModelConfig] = []
    while len(configs) < count:
        space = spaces[len(configs) % len(spaces)]
        for _ in range(MAX_DRAWS):
            cfg = space.to_config(space.sample(rng))
            if count_params(cfg) <= max_params and (
                max_flops is None or forward_flops(cfg) <= max_flops
            ):
                configs.append(cfg)
                break
        else:
            raise ValueError(
                f"max_flops: no {space.name} config under {max_params:,} params and "
                f"{max_flops:,} FLOPs in {MAX_DRAWS:,} draws; raise the caps"
            )
    return configs


@dataclass(frozen=True)
class LatencyCheck:
    """How well the cost model predicts measured latencies on one device.

    Attributes:
        device: the catalogue entry checked.
        measured_ms: per config.
        zero_shot_ms: predicted with the entry's default parameters.
        calibrated_ms: predicted after fitting to the first ``shots`` configs.
        shots: configs used to calibrate; the errors of ``calibrated_ms`` are over the others.
    """

    device: str
    batch_size: int
    measured_ms: list[float]
    zero_shot_ms: list[float]
    calibrated_ms: list[float]
    shots: int

    def median_error(self, calibrated: bool) -> float:
        """Median relative error, of the calibrated model over the held-out configs only."""
        start = self.shots if calibrated else 0
        predicted = np.array(self.calibrated_ms if calibrated else self.zero_shot_ms)[start:]
        measured = np.array(self.measured_ms)[start:]
        return float(np.median(np.abs(predicted / measured - 1)))

    def summary(self) -> str:
        return (
            f"latency model on {self.device} at batch {self.batch_size}: median error "
            f"{self.median_error(False):.0%} zero-shot, {self.median_error(True):.0%} after "
            f"{self.shots}-shot calibration ({len(self.measured_ms) - self.shots} held out)"
        )


def check_latency_model(
    spec: DeviceSpec | None = None,
    *,
    device: str = "cuda",
    count: int = 20,
    shots: int = 10,
    batch_size: int = 1,
    seed: int = 0,
    max_flops: int | None = None,
) -> LatencyCheck:
    """Measures ``count`` seeded configs of every family on ``device``, and predicts them from
    ``spec`` zero-shot and after fitting to the first ``shots``.

    Args:
        spec: the catalogue entry to check; None matches a CUDA device's name to the catalogue.
        device: where to measure (``cuda``, ``cuda:N`` or ``cpu``).
        count, shots: configs measured, and how many of them calibrate.
        batch_size: images per call.
        seed: which configs.
        max_flops: forward FLOPs cap of the configs (keeps a CPU check short).

    Raises:
        ValueError: when ``spec`` is None and the GPU is not in the catalogue, or ``shots``
            leaves no config to score.
    """
    if not MIN_MEASUREMENTS <= shots < count:
        raise ValueError(f"shots: must be in [{MIN_MEASUREMENTS}, {count}), got {shots}")
    if spec is None:
        spec = _catalogue_entry(device)
    configs = seeded_configs(count, seed=seed, max_flops=max_flops)
    measured = np.array(
        [measure_latency_ms(cfg, device=device, batch_size=batch_size) for cfg in configs]
    )
    traces = TraceSet([trace_kernels(cfg) for cfg in configs])
    zero_shot = traces.predict_ms(spec, batch_size, "fp32", spec.params)
    fitted = fit_params(
        TraceSet([trace_kernels(cfg) for cfg in configs[:shots]]),
        measured[:shots],
        spec,
        batch_size=batch_size,
    )
    calibrated = traces.predict_ms(spec, batch_size, "fp32", fitted)
    return LatencyCheck(
        device=spec.name,
        batch_size=batch_size,
        measured_ms=measured.tolist(),
        zero_shot_ms=zero_shot.tolist(),
        calibrated_ms=calibrated.tolist(),
        shots=shots,
    )


def _catalogue_entry(device: str) -> DeviceSpec:
    import torch

    from archbench.hwprofile._device import resolve_device

    dev = resolve_device(device)
    if dev.type != "cuda":
        raise ValueError(f"spec: name the catalogue entry to check on {dev}")
    name = torch.cuda.get_device_name(dev)
    spec = match_gpu(name)
    if spec is None:
        raise ValueError(f"spec: {name} is not in the latency catalogue; pass the closest entry")
    return spec
