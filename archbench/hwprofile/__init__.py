"""Hardware profiles: what a config costs on a device, and what it would cost on a GPU we lack.

``profile_model`` counts (params, FLOPs, MACs), predicts (peak training memory and the largest
batch for a GPU memory size, from a training step simulated on fake tensors) and measures
(latency, throughput, peak memory, and on CUDA the max batch size) one config. Every figure it
cannot measure is None with the reason, and every result carries an environment stamp.
``predict_latency`` predicts latency on a device we lack from a per-kernel cost model and a
device catalogue (``get_device``), calibrated from a few measurements (``calibrate``).
Methods, pitfalls and sources: ``docs/profiling.md``.
"""

from archbench.hwprofile._device import (
    ALLOCATOR_OVERHEAD,
    CUDA_CONTEXT_BYTES,
    NvmlDevice,
    parse_device,
    resolve_device,
)
from archbench.hwprofile._devices import (
    CATALOGUE,
    Calibration,
    DeviceSpec,
    LatencyParams,
    get_device,
    known_devices,
    load_device,
    match_gpu,
    measure_cpu,
    save_device,
)
from archbench.hwprofile._env import environment_stamp, result_filename
from archbench.hwprofile._latency import (
    LatencyPrediction,
    TraceSet,
    calibrate,
    fit_params,
    predict_latency,
    trace_kernels,
)
from archbench.hwprofile._latency_check import (
    LatencyCheck,
    check_latency_model,
    measure_latency_ms,
    seeded_configs,
)
from archbench.hwprofile._max_batch import (
    MAX_BATCH_LIMIT,
    SAFETY_MARGIN,
    MaxBatchSearch,
    ProbeFailed,
    is_oom_error,
    measure_max_batch_size,
    safe_batch_size,
    search_max_batch,
)
from archbench.hwprofile._predict import (
    GPU_MEMORY,
    TrainStepSimulation,
    predict_max_batch_size,
    predict_peak_memory,
    resolve_memory,
    usable_gpu_bytes,
)
from archbench.hwprofile._profile import LEVELS, profile_model
from archbench.hwprofile._result import MemoryPrediction, ProfileResult, Unavailable
from archbench.hwprofile._sweep import SweepPoint, SweepResult, plot_sweep, sweep_batch_sizes

__all__ = [
    "ALLOCATOR_OVERHEAD",
    "CATALOGUE",
    "CUDA_CONTEXT_BYTES",
    "Calibration",
    "DeviceSpec",
    "GPU_MEMORY",
    "LEVELS",
    "LatencyCheck",
    "LatencyParams",
    "LatencyPrediction",
    "MAX_BATCH_LIMIT",
    "MaxBatchSearch",
    "MemoryPrediction",
    "NvmlDevice",
    "ProbeFailed",
    "ProfileResult",
    "SAFETY_MARGIN",
    "SweepPoint",
    "SweepResult",
    "TraceSet",
    "TrainStepSimulation",
    "Unavailable",
    "calibrate",
    "check_latency_model",
    "environment_stamp",
    "fit_params",
    "get_device",
    "is_oom_error",
    "known_devices",
    "load_device",
    "match_gpu",
    "measure_cpu",
    "measure_latency_ms",
    "measure_max_batch_size",
    "parse_device",
    "plot_sweep",
    "predict_latency",
    "predict_max_batch_size",
    "predict_peak_memory",
    "profile_model",
    "resolve_device",
    "resolve_memory",
    "result_filename",
    "safe_batch_size",
    "save_device",
    "search_max_batch",
    "seeded_configs",
    "sweep_batch_sizes",
    "trace_kernels",
    "usable_gpu_bytes",
]
