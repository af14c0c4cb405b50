"""Device specs for the latency model: vendor peak figures, this machine's CPU, DEVICE.yaml files.

A device, to the cost model of ``_latency.py``, is its peak arithmetic rate per precision and its
memory bandwidth. ``CATALOGUE`` holds the vendors' dense (no structured sparsity) figures, each
with the document it comes from; GeForce cards list the tensor-core rate with FP32 accumulation,
which is what PyTorch's autocast uses (half the FP16-accumulate figure on those cards). ``tf32``
is the rate cuDNN uses for fp32 convolutions, which PyTorch allows by default on Ampere and newer
(``torch.backends.cudnn.allow_tf32``); on older cards it equals ``fp32``. "cpu" is this machine,
measured by a short micro-benchmark (``measure_cpu``). A calibrated device (a spec plus fitted
``LatencyParams``) is written to and read from a DEVICE.yaml file (``save_device``).
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from archbench._dataclass_io import from_dict, to_dict

PRECISIONS = ("fp32", "bf16", "fp16")
Precision = Literal["fp32", "bf16", "fp16"]
_T = 1e12
_G = 1e9


@dataclass(frozen=True)
class LatencyParams:
    """The free parameters of the cost model (``_latency.py``).

    Attributes:
        compute_efficiency: share of the peak FLOP/s a convolution or matmul reaches (0, 1].
        memory_efficiency: share of the memory bandwidth a kernel reaches (0, 1].
        launch_us: fixed cost of every kernel: launch and the framework's per-op dispatch.
        compute_launch_us: what a convolution or matmul adds to that (algorithm selection,
            descriptors, workspace: cuDNN's host-side work).
        overhead_ms: fixed cost of every call of the net (Python, module calls, synchronization).
        cache_speedup: how many times faster than memory a pooling kernel's window reads run.
            Overlapping windows (a 3x3 stride-1 pool reads every value 9 times) re-read values
            that the caches serve; the kernel is bound by the slower of its memory traffic and
            its window reads at this multiple of the memory rate (the cache-aware roofline,
            Ilic et al. 2014). Below 1 where the window loop is bound by instructions, not by
            memory: PyTorch's CPU pooling visits the window one value at a time (measured on
            the development machine: 2.2 ns per read for a 3x3 average pool, 4.9 ns for a max
            pool, where streaming reads take 0.3-0.5 ns). DEVICE.yaml files written before it
            load with the default.
    """

    compute_efficiency: float
    memory_efficiency: float
    launch_us: float
    compute_launch_us: float
    overhead_ms: float
    cache_speedup: float = 2.0

    def __post_init__(self) -> None:
        for name in ("compute_efficiency", "memory_efficiency"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name}: must be in (0, 1], got {value}")
        for name in ("launch_us", "compute_launch_us", "overhead_ms"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"{name}: must be >= 0, got {value}")
        if not self.cache_speedup > 0:
            raise ValueError(f"cache_speedup: must be > 0, got {self.cache_speedup}")


# Zero-shot defaults, from common figures rather than any fit: eager PyTorch spends about 10-20 us
# of CPU time per op on a GPU (the launch path), a small CIFAR convolution reaches a fraction of
# a GPU's peak, and streaming kernels reach 60-80% of the bandwidth.
GPU_DEFAULTS = LatencyParams(
    compute_efficiency=0.3,
    memory_efficiency=0.6,
    launch_us=15.0,
    compute_launch_us=15.0,
    overhead_ms=0.1,
)
CPU_DEFAULTS = LatencyParams(
    compute_efficiency=0.5,
    memory_efficiency=0.5,
    launch_us=5.0,
    compute_launch_us=5.0,
    overhead_ms=0.05,
)


@dataclass(frozen=True)
class Calibration:
    """Fitted parameters, and what they were fitted to (the batch sizes of the measurements)."""

    params: LatencyParams
    batch_sizes: tuple[int, ...]
    precision: Precision
    train: bool
    measurements: int
    median_relative_error: float


@dataclass(frozen=True)
class DeviceSpec:
    """A device as the cost model sees it.

    Attributes:
        name: catalogue key, or the name a DEVICE.yaml file gives.
        kind: ``gpu`` or ``cpu`` (which zero-shot defaults apply).
        fp32_flops: peak FP32 FLOP/s without tensor cores.
        tf32_flops: peak FLOP/s of fp32 convolutions (TF32 tensor cores where there are some).
        bf16_flops: peak BF16 FLOP/s; None where the device has no BF16 arithmetic.
        fp16_flops: peak FP16 FLOP/s (tensor cores, FP32 accumulation).
        memory_bandwidth: bytes/s.
        source: where the figures come from.
        calibration: fitted parameters; None for the zero-shot defaults.
        onednn_conv_us: what a convolution that PyTorch's CPU backend runs through oneDNN
            costs per call more than one it runs natively (``_latency._conv_traits``); measured
            for ``cpu``, 0 (not modelled) elsewhere.
        threads: the torch threads of a CPU's measurements (None: several), which decide the
            path of a pointwise convolution.
        onednn_block: the channels oneDNN's blocked layouts pad a convolution to on this CPU
            (8 with AVX2, 16 with AVX-512); 0 (not modelled) elsewhere.
        exp_value_ns: the time per value of an activation that evaluates an exponential
            (SiLU, sigmoid, GELU), which a CPU computes slower than it streams memory; measured
            for ``cpu``, 0 (memory-bound, as on a GPU) elsewhere.
    """

    name: str
    kind: Literal["gpu", "cpu"]
    fp32_flops: float
    tf32_flops: float
    bf16_flops: float | None
    fp16_flops: float
    memory_bandwidth: float
    source: str
    calibration: Calibration | None = None
    onednn_conv_us: float = 0.0
    threads: int | None = None
    onednn_block: int = 0
    exp_value_ns: float = 0.0

    def peak_flops(self, precision: str, *, convolution: bool) -> float:
        """Peak FLOP/s of a convolution or matmul at ``precision``.

        Raises:
            ValueError: for an unknown precision or one the device cannot run.
        """
        if precision == "fp32":
            return self.tf32_flops if convolution else self.fp32_flops
        if precision == "fp16":
            return self.fp16_flops
        if precision == "bf16":
            if self.bf16_flops is None:
                raise ValueError(f"precision: {self.name} has no bf16 arithmetic; use fp16 or fp32")
            return self.bf16_flops
        raise ValueError(f"precision: {precision!r} is unknown; choose {', '.join(PRECISIONS)}")

    @property
    def params(self) -> LatencyParams:
        """The calibrated parameters, or the zero-shot defaults of the device's kind."""
        if self.calibration is not None:
            return self.calibration.params
        return GPU_DEFAULTS if self.kind == "gpu" else CPU_DEFAULTS


def _gpu(
    name: str,
    fp32: float,
    tf32: float | None,
    bf16: float | None,
    fp16: float,
    bandwidth_gb: float,
    source: str,
) -> DeviceSpec:
    """A GPU entry from TFLOP/s and GB/s as the datasheets print them."""
    return DeviceSpec(
        name=name,
        kind="gpu",
        fp32_flops=fp32 * _T,
        tf32_flops=(tf32 or fp32) * _T,
        bf16_flops=None if bf16 is None else bf16 * _T,
        fp16_flops=fp16 * _T,
        memory_bandwidth=bandwidth_gb * _G,
        source=source,
    )


_HOPPER = "NVIDIA H100 Tensor Core GPU datasheet (2023), dense figures"
_AMPERE_DC = "NVIDIA A100 Tensor Core GPU datasheet (2021), dense figures"
_GA102 = "NVIDIA Ampere GA102 GPU architecture whitepaper v2.1, appendix A (FP32 accumulate)"
_ADA = "NVIDIA Ada GPU architecture whitepaper v2.1, appendix A (FP32 accumulate, dense)"
_TURING = "NVIDIA Turing GPU architecture whitepaper (2018), appendix A (FP32 accumulate)"

CATALOGUE: dict[str, DeviceSpec] = {
    spec.name: spec
    for spec in (
        _gpu("h100-sxm", 67, 494.7, 989.4, 989.4, 3350, _HOPPER),
        _gpu("h100-pcie", 51, 378, 756, 756, 2000, _HOPPER),
        _gpu("h200", 67, 494.7, 989.4, 989.4, 4800, "NVIDIA H200 datasheet (2024), dense figures"),
        _gpu("a100-80gb", 19.5, 156, 312, 312, 2039, _AMPERE_DC + ", SXM"),
        _gpu("a100-40gb", 19.5, 156, 312, 312, 1555, _AMPERE_DC + ", SXM"),
        _gpu("a10", 31.2, 62.5, 125, 125, 600, "NVIDIA A10 datasheet (2021), dense figures"),
        _gpu("l4", 30.3, 60, 121, 121, 300, "NVIDIA L4 datasheet (2023), dense figures"),
        _gpu("l40s", 91.6, 183, 362, 362, 864, "NVIDIA L40S datasheet (2023), dense figures"),
        _gpu("t4", 8.1, None, None, 65, 320, "NVIDIA T4 datasheet (2019)"),
        _gpu("v100-sxm", 15.7, None, None, 125, 900, "NVIDIA V100 datasheet (2020), SXM2"),
        _gpu("v100-pcie", 14, None, None, 112, 900, "NVIDIA V100 datasheet (2020), PCIe"),
        _gpu("rtx3060", 12.7, 12.7, 25.4, 25.4, 360, _GA102 + "; GA106 scaled by SMs and clock"),
        _gpu("rtx3090", 35.6, 35.6, 71, 71, 936, _GA102),
        _gpu("rtx4070", 29.1, 29.1, 58.3, 58.3, 504, _ADA),
        _gpu("rtx4080", 48.7, 48.7, 97.5, 97.5, 717, _ADA),
        _gpu("rtx4090", 82.6, 82.6, 165.2, 165.2, 1008, _ADA),
        _gpu("rtx2080ti", 13.4, None, None, 53.8, 616, _TURING + ", reference clocks"),
        _gpu("titan-rtx", 16.3, None, None, 130.5, 672, _TURING),
        DeviceSpec(
            name="xeon-gold-6226",
            kind="cpu",
            fp32_flops=12 * 2.7e9 * 32,
            tf32_flops=12 * 2.7e9 * 32,
            bf16_flops=12 * 2.7e9 * 32,
            fp16_flops=12 * 2.7e9 * 32,
            memory_bandwidth=6 * 2933e6 * 8,
            source=(
                "Intel ark, Xeon Gold 6226: 12 cores at 2.7 GHz base, two AVX-512 FMA units "
                "(32 FP32 FLOP per cycle), six DDR4-2933 channels"
            ),
        ),
    )
}


def _key(name: str) -> str:
    return re.sub(r"[-_ ]", "", name.lower())


# the channel block of oneDNN's convolution layouts, per vector width torch dispatches to
_ONEDNN_BLOCKS = {"AVX2": 8, "AVX512": 16}


@functools.cache
def measure_cpu(seconds: float = 0.3) -> DeviceSpec:
    """This machine's CPU: FP32 matmul FLOP/s, copy bandwidth, the fixed cost of a oneDNN
    convolution call and SiLU's time per value, measured with torch's threads.

    Each figure is the best of a few timed repeats within about ``seconds``; measured once per
    process. BF16 and FP16 are set to the FP32 rate (CPUs without AMX run them no faster).
    """
    import torch
    import torch.nn.functional as F

    def best(fn: Callable[[], object], work: float) -> float:
        fn()  # warm-up: thread pool start, first-touch of the pages
        rates: list[float] = []
        deadline = time.perf_counter() + seconds / 2
        while len(rates) < 3 or time.perf_counter() < deadline:
            start = time.perf_counter()
            fn()
            rates.append(work / max(time.perf_counter() - start, 1e-9))
            if len(rates) >= 20:
                break
        return max(rates)

    n = 512
    a, b = torch.randn(n, n), torch.randn(n, n)
    flops = best(lambda: torch.mm(a, b), 2 * n**3)
    source, target = torch.empty(2**23), torch.empty(2**23)  # 32 MiB each, beyond the caches
    bandwidth = best(lambda: target.copy_(source), 2 * source.nbytes)
    # one-value convolutions: oneDNN runs the 5x5 one (``_latency._conv_traits``), aten the 3x3
    image, five, three = torch.randn(1, 1, 2, 2), torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3)
    maps = torch.randn(64, 64, 8)  # 128 kB: in the caches, as an activation map mostly is
    with torch.inference_mode():
        onednn = 1 / best(lambda: F.conv2d(image, five, padding=2), 1.0)
        native = 1 / best(lambda: F.conv2d(image, three, padding=1), 1.0)
        silu = best(lambda: F.silu(maps), maps.numel())
    return DeviceSpec(
        name="cpu",
        kind="cpu",
        fp32_flops=flops,
        tf32_flops=flops,
        bf16_flops=flops,
        fp16_flops=flops,
        memory_bandwidth=bandwidth,
        source=(
            f"measured on this machine with {torch.get_num_threads()} threads: "
            f"{n}x{n} FP32 matmul, a 32 MiB copy, a oneDNN and a native convolution, a SiLU"
        ),
        onednn_conv_us=1e6 * max(onednn - native, 0.0),
        threads=torch.get_num_threads(),
        onednn_block=_ONEDNN_BLOCKS.get(torch.backends.cpu.get_cpu_capability(), 0),
        exp_value_ns=1e9 / silu,
    )


def known_devices() -> list[str]:
    return ["cpu", *CATALOGUE]


def get_device(text: str) -> DeviceSpec:
    """A catalogue name (``rtx4090``, ``titan-rtx``), ``cpu`` (measured), or a DEVICE.yaml path.

    Raises:
        ValueError: for an unknown name, listing the known ones, or a bad DEVICE.yaml.
        FileNotFoundError: for a DEVICE.yaml path that does not exist.
    """
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        return load_device(text)
    if _key(text) == "cpu":
        return measure_cpu()
    names = {_key(name): spec for name, spec in CATALOGUE.items()}
    if _key(text) in names:
        return names[_key(text)]
    raise ValueError(
        f"device: {text!r} is unknown; choose one of {', '.join(known_devices())}, "
        "or a DEVICE.yaml file"
    )


def match_gpu(gpu_name: str) -> DeviceSpec | None:
    """The catalogue entry of a CUDA device name (``NVIDIA GeForce RTX 4090``), if there is one.

    Where the catalogue has variants (``h100-sxm``, ``h100-pcie``), the one the name mentions,
    else the first.
    """
    name = _key(gpu_name).replace("geforce", "")
    bases = {key: _key(key.split("-")[0]) for key in CATALOGUE}
    found = [key for key in CATALOGUE if bases[key] in name]
    longest = max((len(bases[key]) for key in found), default=0)  # l40s, not l4; a100, not a10
    matches = [CATALOGUE[key] for key in found if len(bases[key]) == longest]
    for spec in matches:
        if _key(spec.name) in name or _key(spec.name.split("-", 1)[-1]) in name:
            return spec
    return matches[0] if matches else None


def load_device(path: str | Path) -> DeviceSpec:
    """A device from a DEVICE.yaml file (``save_device``'s format).

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the first bad or unknown key.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"device: no such DEVICE.yaml file: {path}")
    data = yaml.safe_load(path.read_text())
    spec = from_dict(DeviceSpec, data, path.name)
    for name in ("fp32_flops", "tf32_flops", "fp16_flops", "memory_bandwidth"):
        value = getattr(spec, name)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{path.name}: {name} must be a positive number, got {value}")
    return spec


def save_device(spec: DeviceSpec, path: str | Path) -> None:
    """Writes ``spec`` (figures, source and calibration) as a DEVICE.yaml file."""
    import yaml

    text = yaml.safe_dump(to_dict(spec), sort_keys=False)
    Path(path).write_text(
        "# archbench device for the latency model: FLOP/s, bytes/s, fitted parameters\n" + text
    )


def calibrated(spec: DeviceSpec, calibration: Calibration) -> DeviceSpec:
    """``spec`` with fitted parameters."""
    return replace(spec, calibration=calibration)
