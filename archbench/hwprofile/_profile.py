"""``profile_model``: what one config costs on one device, as a ``ProfileResult``.

The method follows ``docs/profiling.md``: a static pass on the meta device (exact params, FLOPs and
MACs), a simulated training step on fake tensors (predicted memory and max batch size), then
measurements on the device with synthetic inputs: warm-up with the exact shapes, peak statistics
reset after the warm-up, synchronized timing, medians over repeated blocks. On CUDA the memory
figures are the caching allocator's peaks and NVML's device memory; on a CPU they are the tracked
tensor peak (the same tracker as the prediction, on real tensors) and the process's peak RSS.
Whatever cannot be measured is None with a reason.

``level="basic"`` runs once per search trial and must stay cheap: a short latency budget, two
timed blocks, and on CPU a batch of at most 16. ``level="full"`` times longer, at the requested
batch size, and adds fvcore's count as a cross-check of the FLOPs.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import torch

from archbench.hwprofile._device import NvmlDevice, limit_memory, resolve_device
from archbench.hwprofile._env import environment_stamp
from archbench.hwprofile._max_batch import (
    ProbeFailed,
    measure_max_batch_size,
    safe_batch_size,
)
from archbench.hwprofile._memory import (
    Event,
    block_bytes,
    peak_rss_bytes,
    replay,
    reset_peak_rss,
    trace_infer_step,
    trace_train_step,
)
from archbench.hwprofile._predict import TrainStepSimulation
from archbench.hwprofile._result import ProfileResult, Unavailable
from archbench.hwprofile._timing import (
    MIN_BLOCKS,
    TimingStats,
    time_call,
    time_latency,
    time_steps,
)
from archbench.hwprofile._workload import OPTIMIZERS, Workload, check_amp
from archbench.models import ModelConfig, build_and_count_flops, build_model, count_params


@dataclass(frozen=True)
class StepTiming:
    """How whole steps are timed.

    Attributes:
        warmup: untimed steps before the timed blocks on CUDA (autotuning, allocator growth);
            on CPU the first call, which is the tracked one, is the warm-up.
        repeats: timed blocks; throughput is their median.
        min_block_seconds: a CUDA block runs steps for at least this long.
    """

    warmup: int
    repeats: int
    min_block_seconds: float


@dataclass(frozen=True)
class Level:
    """How thorough a profile is.

    Attributes:
        steps: timing of the inference and training steps.
        latency_seconds: ``Timer.adaptive_autorange`` budget for the batch-1 latency: it stops
            after a tenth of this once the spread is small, and at this in any case.
        cpu_batch_size: largest batch measured on a CPU (None: the requested one).
        fvcore: run fvcore's FLOP count as a cross-check.
    """

    steps: StepTiming
    latency_seconds: float
    cpu_batch_size: int | None
    fvcore: bool


LEVELS = {
    "basic": Level(
        steps=StepTiming(warmup=2, repeats=MIN_BLOCKS, min_block_seconds=0.05),
        latency_seconds=0.5,
        cpu_batch_size=16,
        fvcore=False,
    ),
    "full": Level(
        steps=StepTiming(warmup=5, repeats=MIN_BLOCKS, min_block_seconds=0.5),
        latency_seconds=3.0,
        cpu_batch_size=None,
        fvcore=True,
    ),
}


def _cuda_only(field: str, device: torch.device) -> str:
    return f"{field} is a CUDA figure; this profile ran on {device}"


_COMPILED_TRACKING = (
    "the tensor tracker follows eager dispatch and cannot see inside compiled graphs; "
    "profile without compile for this figure"
)


def _first_call(
    workload: Workload,
    run: Callable[[], None],
    trace: Callable[[], list[Event]],
    peak_name: str,
    figures: dict[str, Any],
) -> None:
    """The first call at these shapes: warm-up, and compilation when compiled.

    On an eager CPU workload it runs under the tracker, which gives the tensor peak without an
    extra step. On CUDA the peak statistics are reset after it, so that autotuning spikes of
    the first call (PyTorch PR #124326) stay out of the steady-state peak.
    """
    device = workload.device
    if device.type == "cpu" and not workload.compiled:
        start = time.perf_counter()
        figures[peak_name] = replay(trace()).total
        figures["first_call_seconds"] = time.perf_counter() - start
        return
    figures["first_call_seconds"] = time_call(run, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        figures["unavailable"][peak_name] = _COMPILED_TRACKING


def _timed(
    run: Callable[[], None],
    device: torch.device,
    timing: StepTiming,
    batch_size: int,
    name: str,
    figures: dict[str, Any],
) -> None:
    """Throughput ``name`` in images/s (the median block), its IQR, the number of timed blocks
    and, where the timing is noisy, why (``figures["noisy"][name]``)."""
    warmup = timing.warmup if device.type == "cuda" else 0  # CPU: the first call was enough
    stats = time_steps(
        run,
        device,
        warmup=warmup,
        repeats=timing.repeats,
        min_block_seconds=timing.min_block_seconds,
    )
    figures[name] = batch_size / stats.median
    figures[f"{name}_iqr"] = stats.rate_iqr(batch_size)
    figures[f"{name.split('_')[0]}_timed_blocks"] = stats.runs
    _mark_noise(name, stats, figures)


def _mark_noise(name: str, stats: TimingStats, figures: dict[str, Any]) -> None:
    if stats.noise is not None:
        figures.setdefault("noisy", {})[name] = stats.noise


def measure_infer(workload: Workload, batch_size: int, timing: StepTiming) -> dict[str, Any]:
    """Inference figures at ``batch_size``: throughput and peak tensor memory.

    Returns:
        Figure name -> value, plus ``unavailable`` (name -> reason),
        ``first_call_seconds`` (the first call, which includes compilation) and, when the
        timing is noisy, ``noisy`` (name -> why).
    """
    device = workload.device
    images, _ = workload.batch(batch_size)
    figures: dict[str, Any] = {"unavailable": {}}

    def run() -> None:
        workload.infer_step(images)

    trace = partial(trace_infer_step, workload, images)
    _first_call(workload, run, trace, "peak_infer_memory_bytes", figures)
    _timed(run, device, timing, batch_size, "infer_images_per_second", figures)
    if device.type == "cuda":  # less the optimizer state, held for training, idle here
        state = [tensor for tensor in workload.optimizer_state() if tensor.device == device]
        peak = torch.cuda.max_memory_allocated(device) - block_bytes(state)
        figures["peak_infer_memory_bytes"] = peak
    return figures


def measure_train(
    workload: Workload,
    batch_size: int,
    timing: StepTiming,
    *,
    nvml: NvmlDevice | None = None,
    nvml_baseline: int = 0,
) -> dict[str, Any]:
    """Training figures at ``batch_size``: throughput, peak tensor memory, and the device's or
    the process's view of memory.

    Returns:
        Figure name -> value, plus ``unavailable``, ``first_call_seconds`` and ``noisy`` as
        in ``measure_infer``.
    """
    device = workload.device
    images, labels = workload.batch(batch_size)
    figures: dict[str, Any] = {"unavailable": {}}
    missing = figures["unavailable"]

    def run() -> None:
        workload.train_step(images, labels)

    trace = partial(trace_train_step, workload, images, labels)
    _first_call(workload, run, trace, "peak_train_memory_bytes", figures)
    if device.type == "cpu":
        try:
            reset_peak_rss()
        except Unavailable as exc:
            missing["peak_train_rss_bytes"] = str(exc)
    _timed(run, device, timing, batch_size, "train_images_per_second", figures)
    if device.type == "cuda":
        figures["peak_train_memory_bytes"] = torch.cuda.max_memory_allocated(device)
        figures["peak_train_reserved_bytes"] = torch.cuda.max_memory_reserved(device)
        if nvml is not None:
            try:
                figures["peak_train_device_used_bytes"] = nvml.used_bytes() - nvml_baseline
            except Unavailable as exc:
                missing["peak_train_device_used_bytes"] = str(exc)
        missing["peak_train_rss_bytes"] = (
            "process RSS is reported for CPU runs, where it holds the tensors"
        )
    else:
        if "peak_train_rss_bytes" not in missing:
            figures["peak_train_rss_bytes"] = peak_rss_bytes()
        missing["peak_train_reserved_bytes"] = _cuda_only("the allocator's reserved peak", device)
        missing["peak_train_device_used_bytes"] = _cuda_only("NVML device memory", device)
    return figures


def _fvcore_macs(cfg: ModelConfig) -> int:
    """fvcore's MAC count of one forward (it adds batch norm and pooling to convs and matmuls).

    Raises:
        Unavailable: when fvcore is not installed or cannot trace the model.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore imports torch.jit.script, deprecated in torch 2.13
        try:
            from fvcore.nn import FlopCountAnalysis
        except ImportError:
            raise Unavailable(
                "fvcore is not installed; pip install 'archbench[fvcore]' for the cross-check"
            ) from None
        model = build_model(cfg).eval()
        images = torch.zeros(1, cfg.in_channels, cfg.input_size, cfg.input_size)
        analysis = FlopCountAnalysis(model, images)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        try:
            return int(analysis.total())
        except Exception as exc:  # fvcore traces through TorchScript; any failure is its own
            raise Unavailable(f"fvcore could not count this model: {exc}") from None


def _static_figures(cfg: ModelConfig, level: Level) -> tuple[dict[str, Any], dict[str, str]]:
    """Counts that need no device: exact params, FLOPs and MACs on meta, fvcore's cross-check."""
    n_params = count_params(cfg)
    flop_count = build_and_count_flops(cfg)
    figures: dict[str, Any] = {
        "n_params": n_params,
        "model_bytes_fp32": 4 * n_params,
        "model_bytes_fp16": 2 * n_params,
        "flops": flop_count.flops,
        "macs": flop_count.macs,
        "train_step_flops": flop_count.train_step_flops,
    }
    unavailable: dict[str, str] = {}
    if not level.fvcore:
        unavailable["fvcore_macs"] = "the fvcore cross-check runs at level full"
        return figures, unavailable
    try:
        figures["fvcore_macs"] = _fvcore_macs(cfg)
    except Unavailable as exc:
        unavailable["fvcore_macs"] = str(exc)
    return figures, unavailable


def _measured_figures(
    cfg: ModelConfig,
    device: torch.device,
    batch_size: int,
    level: Level,
    *,
    compile: bool,
    nvml: NvmlDevice | None,
    workload_options: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Latency at batch 1, then inference and training at ``batch_size``, on the device."""
    unavailable: dict[str, str] = {}
    nvml_baseline = 0
    if nvml is not None:
        try:
            nvml_baseline = nvml.used_bytes()  # before the model exists
        except Unavailable as exc:
            unavailable["peak_train_device_used_bytes"] = str(exc)
            nvml = None
    workload = Workload(cfg, device, compile=compile, **workload_options)
    single, _ = workload.batch(1)
    first_calls = {"infer@1": time_call(lambda: workload.infer_step(single), device)}
    latency = time_latency(
        lambda: workload.infer_step(single),
        device,
        min_run_time=level.latency_seconds / 10,
        max_run_time=level.latency_seconds,
    )
    figures: dict[str, Any] = {
        "latency_ms_median": 1e3 * latency.median,
        "latency_ms_p90": 1e3 * latency.p90,
        "latency_ms_iqr": 1e3 * latency.iqr,
        "latency_timed_blocks": latency.runs,
    }
    _mark_noise("latency_ms_median", latency, figures)
    for mode, measured in (
        ("infer", measure_infer(workload, batch_size, level.steps)),
        (
            "train",
            measure_train(
                workload, batch_size, level.steps, nvml=nvml, nvml_baseline=nvml_baseline
            ),
        ),
    ):
        first_calls[f"{mode}@{batch_size}"] = measured.pop("first_call_seconds")
        unavailable.update(measured.pop("unavailable"))
        figures.setdefault("noisy", {}).update(measured.pop("noisy", {}))
        figures.update(measured)
    contradictions(figures, batch_size)
    if compile:  # one static-shape graph per call: each compile apart, training's as the trainer's
        figures["compile_seconds"] = first_calls[f"train@{batch_size}"]
        figures["compile_seconds_by_call"] = first_calls
    else:
        unavailable["compile_seconds"] = "compile not requested"
    return figures, unavailable


def contradictions(figures: dict[str, Any], batch_size: int) -> None:
    """Marks a batch-1 latency longer than a whole inference batch as noisy, in place: the two
    were timed moments apart, so the machine's load changed in between (a search trial stored
    234.6 ms beside 228 images/s at batch 16, 70 ms a batch)."""
    latency = figures.get("latency_ms_median")
    throughput = figures.get("infer_images_per_second")
    if batch_size < 2 or not latency or not throughput:
        return
    batch_ms = 1e3 * batch_size / throughput
    if latency > batch_ms:
        noisy = figures.setdefault("noisy", {})
        why = f"{latency:.3g} ms, longer than a whole batch of {batch_size} ({batch_ms:.3g} ms)"
        previous = noisy.get("latency_ms_median")
        noisy["latency_ms_median"] = f"{previous}; {why}" if previous else why


def _max_batch_figures(
    cfg: ModelConfig,
    device: torch.device,
    *,
    requested: bool,
    start: int,
    memory_limit: int | None,
    workload_options: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The measured max batch size on CUDA, or why there is none. Returns figures,
    unavailable reasons and notes."""
    names = ("max_batch_size", "max_batch_size_safe")
    if device.type != "cuda":
        reason = (
            "measured only on a CUDA device (a CPU out-of-memory kills the process instead of "
            "raising); see predicted_max_batch_size"
        )
        return {}, dict.fromkeys(names, reason), {}
    if not requested:
        return {}, dict.fromkeys(names, "not requested (max_batch=True, --max-batch)"), {}
    try:
        search = measure_max_batch_size(
            cfg, device, start=start, memory_limit=memory_limit, **workload_options
        )
    except ProbeFailed as exc:
        return {}, dict.fromkeys(names, str(exc)), {}
    figures = {
        "max_batch_size": search.max_batch_size,
        "max_batch_size_safe": safe_batch_size(search.max_batch_size),
    }
    notes = {"max_batch_size": f"reached the search limit {search.limit}"} if search.capped else {}
    return figures, {}, notes


SHARED_FIGURES = ("latency_ms_median", "infer_images_per_second", "train_images_per_second")
NEIGHBOUR_FIGURES = ("peak_train_device_used_bytes", "max_batch_size", "max_batch_size_safe")


def shared_figures(
    figures: dict[str, Any], unavailable: dict[str, str], notes: dict[str, str]
) -> None:
    """Marks what a shared CUDA device does to the figures, in place.

    Timings are kept with a note: they are real, but slowed by the neighbours' kernels. NVML's
    device memory counts the neighbours' memory, and a max-batch probe would fill the card under
    them (or fail for their memory), so neither is kept.
    """
    for name in SHARED_FIGURES:
        if figures.get(name) is not None:
            notes[name] = "measured on a GPU that other trials used at the same time"
    for name in NEIGHBOUR_FIGURES:
        figures.pop(name, None)
        unavailable[name] = (
            "not measured: the GPU was shared with other trials, whose memory it would count"
        )


def profile_model(
    cfg: ModelConfig,
    *,
    device: str = "auto",
    batch_size: int = 128,
    level: Literal["basic", "full"] = "basic",
    amp: str | None = None,
    channels_last: bool = False,
    compile: bool = False,
    memory: int | None = None,
    memory_limit: int | None = None,
    max_batch: bool = False,
    optimizer: str = "sgd",
    shared_device: bool = False,
) -> ProfileResult:
    """Profiles one config: counts, predicted memory, and measurements on ``device``.

    Args:
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        batch_size: batch of the throughput and memory figures (on CPU, level basic measures
            at most 16; ``env["batch_size"]`` says which was used).
        level: ``basic`` (cheap, for every search trial) or ``full``.
        amp: ``bf16`` or ``fp16`` autocast, or None for fp32.
        channels_last: NHWC memory format.
        compile: ``torch.compile`` the model; compilation time is reported apart.
        memory: GPU memory size in bytes to predict the max batch size for; on CUDA the
            device's own memory when None (or ``memory_limit``).
        memory_limit: on CUDA, measure as if the card had this many bytes (``limit_memory``):
            "would it fit on a smaller card?".
        max_batch: measure the max batch size on the CUDA device (probes in a child process).
        optimizer: ``sgd`` or ``adamw``, the optimizer of the training step.
        shared_device: other processes train on the same CUDA device now: their work and
            memory would be counted as this config's, so the figures are marked
            (``shared_figures``) and the max batch is not probed. Ignored on a CPU.

    Raises:
        ValueError: for a bad argument or a device this machine does not have.
    """
    _check_arguments(level, batch_size, memory, optimizer, amp)
    settings = LEVELS[level]
    dev = resolve_device(device)
    check_amp(amp, dev)  # bf16 on a pre-Ampere card: say so instead of a max batch of 0
    if memory_limit is not None:
        limit_memory(dev, memory_limit)
        memory = memory if memory is not None else memory_limit
    options: dict[str, Any] = {"optimizer": optimizer, "amp": amp, "channels_last": channels_last}
    measured_batch, notes = _measured_batch(dev, level, batch_size)
    figures, unavailable = _static_figures(cfg, settings)

    def add(part: tuple[dict[str, Any], dict[str, str], dict[str, str]]) -> None:
        figures.update(part[0])
        unavailable.update(part[1])
        notes.update(part[2])

    add(_predicted_memory_figures(cfg, dev, measured_batch, memory, options, compile=compile))
    env = environment_stamp(dev, batch_size=measured_batch, compile=compile, level=level, **options)
    shared = shared_device and dev.type == "cuda"
    # The max batch is probed first, while this process holds no model, optimizer or cuBLAS
    # workspace on the device: they would take memory from the probing child.
    add(
        _max_batch_figures(
            cfg,
            dev,
            requested=max_batch and not shared,
            start=figures.get("predicted_max_batch_size") or batch_size,
            memory_limit=memory_limit,
            workload_options=options,
        )
    )
    with _nvml(dev, env, unavailable) as nvml:
        measured, missing = _measured_figures(
            cfg, dev, measured_batch, settings, compile=compile, nvml=nvml, workload_options=options
        )
    figures.update(measured)
    unavailable.update(missing)
    if shared:
        shared_figures(figures, unavailable, notes)
    return ProfileResult(
        **figures, shared_device=shared, env=env, unavailable=unavailable, notes=notes
    )


def _check_arguments(
    level: str, batch_size: int, memory: int | None, optimizer: str, amp: str | None
) -> None:
    if level not in LEVELS:
        raise ValueError(f"level: {level!r} is unknown; choose basic or full")
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    if memory is not None and memory <= 0:
        raise ValueError(f"memory: must be a positive number of bytes, got {memory}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: {optimizer!r} is unknown; choose {' or '.join(OPTIMIZERS)}")
    check_amp(amp)


def _measured_batch(dev: torch.device, level: str, batch_size: int) -> tuple[int, dict[str, str]]:
    """The batch the figures are measured at, and a note where a cheap CPU level lowered it."""
    cap = LEVELS[level].cpu_batch_size
    if dev.type != "cpu" or not cap or batch_size <= cap:
        return batch_size, {}
    return cap, {
        "batch_size": f"level {level} measures CPU figures at batch {cap} instead of "
        f"{batch_size} to stay cheap; level full uses the requested batch size"
    }


def _predicted_memory_figures(
    cfg: ModelConfig,
    dev: torch.device,
    batch_size: int,
    memory: int | None,
    options: dict[str, Any],
    *,
    compile: bool,
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The simulated training step's memory at ``batch_size``, and the largest batch that fits
    ``memory`` (else the CUDA device's own; a CPU without ``memory`` has none): figures,
    unavailable ones and notes."""
    simulation = TrainStepSimulation(cfg, **options)
    prediction = simulation.predict(batch_size)
    figures: dict[str, Any] = {
        "predicted_train_memory_bytes": prediction.total,
        "predicted_train_memory": prediction,
    }
    notes: dict[str, str] = {}
    if compile:
        notes["predicted_train_memory_bytes"] = (
            "simulated for the eager model; torch.compile changes the memory profile"
        )
    target = memory
    if target is None and dev.type == "cuda":
        target = torch.cuda.get_device_properties(dev).total_memory
    if target is None:
        reason = "no GPU memory size to predict for; pass memory (--memory 24GiB or a GPU name)"
        return (
            figures,
            dict.fromkeys(("predicted_max_batch_size", "predicted_for_memory_bytes"), reason),
            notes,
        )
    search = simulation.max_batch_size(target)
    figures.update(
        predicted_max_batch_size=search.max_batch_size, predicted_for_memory_bytes=target
    )
    if search.capped:
        notes["predicted_max_batch_size"] = f"reached the search limit {search.limit}"
    return figures, {}, notes


@contextlib.contextmanager
def _nvml(
    dev: torch.device, env: dict[str, Any], unavailable: dict[str, str]
) -> Iterator[NvmlDevice | None]:
    """NVML's view of a CUDA device (its driver goes into ``env``), closed afterwards; None on
    a CPU or where NVML is missing (said in ``unavailable``)."""
    if dev.type != "cuda":
        yield None
        return
    try:
        nvml = NvmlDevice(dev)
    except Unavailable as exc:
        unavailable.update({"peak_train_device_used_bytes": str(exc), "env.driver": str(exc)})
        yield None
        return
    env.update(nvml.stamp())
    try:
        yield nvml
    finally:
        nvml.close()
