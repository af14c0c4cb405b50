"""Hardware profiles: what a config costs on a device, and what it would cost on a GPU we lack.

``profile_model`` counts (params, FLOPs, MACs), predicts (peak training memory and the largest
batch for a GPU memory size, from a training step simulated on fake tensors) and measures
(latency, throughput, peak memory, and on CUDA the max batch size) one config. Every figure it
cannot measure is None with the reason, and every result carries an environment stamp.
Methods, pitfalls and sources: ``docs/profiling.md``.
"""

from archbench.hwprofile._device import NvmlDevice, parse_device, resolve_device
from archbench.hwprofile._env import environment_stamp, result_filename
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
    ALLOCATOR_OVERHEAD,
    CUDA_CONTEXT_BYTES,
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
    "CUDA_CONTEXT_BYTES",
    "GPU_MEMORY",
    "LEVELS",
    "MAX_BATCH_LIMIT",
    "MaxBatchSearch",
    "MemoryPrediction",
    "NvmlDevice",
    "ProbeFailed",
    "ProfileResult",
    "SAFETY_MARGIN",
    "SweepPoint",
    "SweepResult",
    "TrainStepSimulation",
    "Unavailable",
    "environment_stamp",
    "is_oom_error",
    "measure_max_batch_size",
    "parse_device",
    "plot_sweep",
    "predict_max_batch_size",
    "predict_peak_memory",
    "profile_model",
    "resolve_device",
    "resolve_memory",
    "result_filename",
    "safe_batch_size",
    "search_max_batch",
    "sweep_batch_sizes",
    "usable_gpu_bytes",
]
