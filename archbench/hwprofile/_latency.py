"""Latency on a device we may not have: a per-kernel roofline cost model, fitted from a few runs.

A config's forward pass (or training step) is traced once on the meta device by a
``TorchDispatchMode`` that sees every aten op: its FLOPs (torch's own ``flop_registry``, as
``FlopCounterMode`` counts them), the bytes of the tensors it reads and writes, and whether it is
a kernel at all (views and allocations are not). Every figure is ``fixed + per_image * batch``,
so one trace serves every batch size: a forward pass is traced at batch 1 with the bytes of
parameters and buffers (and their views) as the fixed part (exact for FLOPs; batch norm's
per-channel statistics count as per-image bytes, a few kB per layer), a training step at batch
2 and 4.
Each kernel then costs

    max(flops / (peak * compute_efficiency), bytes / (bandwidth * memory_efficiency)) + launch

and the net adds a fixed ``overhead`` (the roofline model, Williams et al. 2009; per-kernel
prediction as in nn-Meter, Zhang et al. 2021). Convolutions and matmuls use the device's peak for
the precision; every other kernel (batch norm, activations, adds, pooling) is memory-bound.
A pooling kernel also reads each output's window, ``k x k`` values: where windows overlap (a 3x3
stride-1 pool reads every value 9 times) the caches serve the re-reads, at ``cache_speedup``
times the memory rate, and the kernel takes the longer of its memory traffic and its window
reads (the cache-aware roofline, Ilic et al. 2014). On a CPU the speedup falls below 1: the
pooling loop is bound by its instructions per window value, not by memory.
Lower precision halves the bytes and adds autocast's cast of each weight.

The six parameters (``LatencyParams``) have zero-shot defaults per device kind and are fitted
from a few measurements (``fit_params``): robust least squares (soft-L1) on the log ratio of
predicted to measured time, in log space with bounds that keep them physical, and a weak pull
toward the defaults so that five measurements do not wander. Method and figures:
``docs/profiling.md``.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archbench.hwprofile._devices import (
    CPU_DEFAULTS,
    GPU_DEFAULTS,
    PRECISIONS,
    Calibration,
    DeviceSpec,
    LatencyParams,
    calibrated,
)
from archbench.models import ModelConfig

_TRACE_BATCHES = (2, 4)  # batch norm in training mode needs two values per channel
_KIND_MEMORY, _KIND_CONV, _KIND_MATMUL = 0, 1, 2
_NOT_KERNELS = {
    "aten.empty",
    "aten.empty_strided",
    "aten.empty_like",
    "aten.new_empty",
    "aten.new_empty_strided",
    "aten._unsafe_view",
    "aten.lift_fresh",
    "aten.detach",
    "aten.alias",
}
_CONV_OPS = {"aten.convolution", "aten.convolution_backward", "aten._convolution"}
# pooling kernels: the argument that holds the kernel size, and the one shaped like the output
_POOL_OPS = {
    "aten.avg_pool2d": (1, None),
    "aten.max_pool2d_with_indices": (1, None),
    "aten.avg_pool2d_backward": (2, 0),
    "aten.max_pool2d_with_indices_backward": (2, 0),
}
# where a convolution's input and weight are among its arguments (stride, dilation and groups
# follow at +3, +5 and +8)
_CONV_ARGS = {"aten.convolution": 0, "aten._convolution": 0, "aten.convolution_backward": 1}
# A convolution's path through PyTorch's CPU backend, as aten's ``use_mkldnn`` chooses it:
# oneDNN at every batch (a kernel larger than 3x3, groups, or more than 20,480 input values
# per image), else natively (im2col and GEMM) at batch 1; a pointwise convolution (1x1,
# stride 1, no dilation) runs natively below batch 16 on one thread.
_ONEDNN_ANY_BATCH, _POINTWISE = 1, 2
_NATIVE_MAX_VALUES = 20480
# Activations that evaluate an exponential per value: on a CPU their instructions, not memory,
# bound them (about 2 ns per value here against 0.3 for a ReLU), at ``DeviceSpec.exp_value_ns``.
_EXP_OPS = {
    "aten.silu",
    "aten.silu_",
    "aten.sigmoid",
    "aten.sigmoid_",
    "aten.gelu",
    "aten.silu_backward",
    "aten.gelu_backward",
}
# kind, FLOPs fixed and per image, bytes likewise, pooling window reads per image, values of
# an exponential activation per image, a convolution's CPU path and channels in and out
Row = tuple[int, float, float, float, float, float, float, float, float, float]
_COLUMNS = (
    "kind",
    "flops_fixed",
    "flops_per_image",
    "bytes_fixed",
    "bytes_per_image",
    "window",
    "exp_values",
    "cpu_path",
    "in_channels",
    "out_channels",
)
# name, FLOPs, fixed and other bytes, window reads, exponential values, CPU path, channels
Op = tuple[str, int, int, int, int, int, int, int, int]
MIN_MEASUREMENTS = 5  # one per parameter but the cache's, which the prior holds when no pool varies
PRIOR_WEIGHT = 0.05  # pull of each log-parameter toward its default, against one log residual


@dataclass(frozen=True)
class KernelTrace:
    """The kernels of one forward pass or training step, each figure ``fixed + per_image * B``.

    Kernels are kept as distinct rows with their counts: a net repeats a few kernel shapes.

    Attributes:
        rows: distinct kernels: kind (memory-bound 0, convolution 1, matmul 2), FLOPs fixed
            and per image, bytes read and written (fp32) fixed and per image, a pooling
            kernel's window reads per image (values; 0 for every other kernel), an exponential
            activation's values per image (``_EXP_OPS``; else 0), and a convolution's path
            flags on a CPU (``_conv_traits``) and its channels in and out per group (0 for every
            other kernel).
        counts: how many times the net runs each.
        cast_bytes: fp32 bytes of the weights autocast casts (once per step) at lower precision.
        casts: how many such casts there are.
    """

    rows: tuple[Row, ...]
    counts: tuple[int, ...]
    cast_bytes: float
    casts: int

    @property
    def kernels(self) -> int:
        return sum(self.counts)

    def total(self, column: str) -> float:
        """The sum over all kernels of one column of ``rows`` (``flops_per_image``, ...)."""
        index = _COLUMNS.index(column)
        return sum(row[index] * count for row, count in zip(self.rows, self.counts))


class _KernelRecorder:
    """A dispatch mode that records every aten op that is a kernel: its name, FLOPs, the bytes
    of the parameters and buffers it touches (``fixed``) and of every other tensor, and a
    pooling kernel's window reads (output values times the window's area)."""

    def __init__(self, fixed: set[int]) -> None:
        from torch.utils._python_dispatch import TorchDispatchMode

        recorder = self
        self.fixed = fixed
        self.views: list[Any] = []
        self.ops: list[Op] = []

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(
                self,
                func: Any,
                types: Any,
                args: tuple[Any, ...] = (),
                kwargs: dict[str, Any] | None = None,
            ) -> Any:
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                recorder.record(func, args, kwargs, out)
                return out

        self.mode = _Mode()

    def record(self, func: Any, args: Any, kwargs: Any, out: Any) -> None:
        import torch
        from torch.utils._pytree import tree_leaves
        from torch.utils.flop_counter import flop_registry

        packet = func._overloadpacket
        name = str(packet)
        inputs = {
            id(leaf): leaf for leaf in tree_leaves((args, kwargs)) if isinstance(leaf, torch.Tensor)
        }
        outputs = [leaf for leaf in tree_leaves(out) if isinstance(leaf, torch.Tensor)]
        if func.is_view or name in _NOT_KERNELS:
            if func.is_view and self.fixed.intersection(inputs):  # a weight's view (w.t())
                self.views.extend(outputs)  # kept alive, so that their ids stay theirs
                self.fixed.update(id(view) for view in outputs)
            return
        fixed = other = 0
        for key, tensor in [*inputs.items(), *((id(t), t) for t in outputs)]:
            nbytes = tensor.numel() * tensor.element_size()
            if key in self.fixed:
                fixed += nbytes
            else:
                other += nbytes
        flops = 0
        if packet in flop_registry:
            flops = int(flop_registry[packet](*args, **kwargs, out_val=out))
        window = _window_reads(name, args, outputs)
        exp = outputs[0].numel() if name in _EXP_OPS else 0
        self.ops.append((name, flops, fixed, other, window, exp, *_conv_traits(name, args)))


def _window_reads(name: str, args: Any, outputs: list[Any]) -> int:
    """Values a pooling kernel reads through its windows: output values times ``k x k`` (the
    backward pass gathers as many); 0 for any other kernel."""
    if name not in _POOL_OPS:
        return 0
    size_arg, shaped_arg = _POOL_OPS[name]
    kernel = list(args[size_arg])
    area = kernel[0] * kernel[-1]  # a kernel size of one number is square
    shaped = outputs[0] if shaped_arg is None else args[shaped_arg]
    return int(shaped.numel() * area)


def _conv_traits(name: str, args: Any) -> tuple[int, int, int]:
    """A convolution's path flags (``_ONEDNN_ANY_BATCH``, ``_POINTWISE``) and its channels in
    and out per group; zeros for any other op.

    PyTorch's CPU backend runs small convolutions at batch 1 natively and everything else
    through oneDNN, whose every call costs a fixed amount more (``DeviceSpec.onednn_conv_us``):
    the development machine's 2 cores pay 150 us per oneDNN call, where a small native
    convolution takes 30 us. NAS-Bench-201's convolutions are all native at batch 1, while a
    5x5 bottleneck or a wide stage is not, so a fit to the one cannot price the other. oneDNN
    also computes on channels padded to its blocks (``DeviceSpec.onednn_block``): a first
    convolution of 3 channels runs at a third of the rate of a 16-channel one.
    """
    if name not in _CONV_ARGS:
        return 0, 0, 0
    at = _CONV_ARGS[name]
    images, weight = args[at], args[at + 1]
    stride, dilation, groups = args[at + 3], args[at + 5], args[at + 8]
    per_image = images.numel() // max(images.shape[0], 1)
    kernel = tuple(weight.shape[2:])
    any_batch = groups > 1 or min(kernel) > 3 or per_image > _NATIVE_MAX_VALUES
    pointwise = kernel == (1, 1) and set(stride) == {1} and set(dilation) == {1}
    path = _ONEDNN_ANY_BATCH * any_batch + _POINTWISE * pointwise
    return path, weight.shape[1], weight.shape[0] // groups


def _onednn_calls(path: np.ndarray, batch: float, threads: int | None) -> np.ndarray:
    """Which of the convolutions with path flags ``path`` PyTorch's CPU backend runs through
    oneDNN at ``batch`` on ``threads`` threads (None: several)."""
    path = path.astype(int)
    native_pointwise = (path & _POINTWISE).astype(bool) & (batch < 16) & (threads == 1)
    return ((path & _ONEDNN_ANY_BATCH).astype(bool) | (batch > 1)) & ~native_pointwise


def _record(module: Any, shape: tuple[int, ...], batch_size: int, train: bool) -> list[Op]:
    """The kernels of ``module`` (on meta) on a batch of ``shape``: a forward pass, or a
    forward, cross-entropy and backward pass."""
    import torch
    import torch.nn.functional as F

    module.train(train)
    with torch.device("meta"):
        images = torch.empty(batch_size, *shape)
        labels = torch.zeros(batch_size, dtype=torch.long)
    fixed = {id(t) for t in [*module.parameters(), *module.buffers()]}
    recorder = _KernelRecorder(fixed)
    if train:
        for param in module.parameters():
            param.grad = None  # zero_grad(set_to_none=True): backward writes, never accumulates
        with recorder.mode:
            F.cross_entropy(module(images), labels).backward()
    else:
        with recorder.mode, torch.no_grad():
            module(images)
    return recorder.ops


def _optimizer_kernels(n_params: int) -> list[Row]:
    """SGD with Nesterov momentum and weight decay (the recipes' optimizer) as PyTorch's foreach
    path runs it: four passes over every fp32 parameter (weight decay into the gradient,
    momentum, the Nesterov step, the update), each reading two tensors and writing one."""
    return [(_KIND_MEMORY, 0.0, 0.0, 4.0 * n_params * 3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)] * 4


def _rows(ops: list[Op]) -> list[Row]:
    """Forward-pass kernels at batch 1 as rows: weights are fixed, everything else per image."""
    return [
        (_kind(name, flops), 0.0, flops, fixed, other, window, exp, path, c_in, c_out)
        for name, flops, fixed, other, window, exp, path, c_in, c_out in ops
    ]


def _kind(name: str, flops: float) -> int:
    return _KIND_CONV if name in _CONV_OPS else _KIND_MATMUL if flops else _KIND_MEMORY


def _train_rows(module: Any, shape: tuple[int, ...]) -> list[Row]:
    """Training-step kernels from two traces: each figure is affine in the batch size."""
    low, high = (_record(module, shape, batch, True) for batch in _TRACE_BATCHES)
    if [op[0] for op in low] != [op[0] for op in high]:
        raise ValueError("latency: the ops of this model change with the batch size")
    base, step = _TRACE_BATCHES[0], _TRACE_BATCHES[1] - _TRACE_BATCHES[0]
    rows: list[Row] = []
    for (name, flops_a, *rest_a), (_, flops_b, *rest_b) in zip(low, high):
        *bytes_a, window_a, exp_a, path, c_in, c_out = rest_a
        *bytes_b, window_b, exp_b, _, _, _ = rest_b
        flops_slope, bytes_slope = (flops_b - flops_a) / step, (sum(bytes_b) - sum(bytes_a)) / step
        rows.append(
            (
                _kind(name, flops_a),
                max(flops_a - flops_slope * base, 0.0),
                flops_slope,
                max(sum(bytes_a) - bytes_slope * base, 0.0),
                bytes_slope,
                (window_b - window_a) / step,  # no weights: all per image
                (exp_b - exp_a) / step,
                path,
                c_in,
                c_out,
            )
        )
    return rows


def _trace(rows: Sequence[Row], weight_bytes: float | None = None, casts: int = 0) -> KernelTrace:
    """A trace from rows. The weights autocast casts are those given, or for a forward pass
    those of its convolutions and matmuls (their fixed bytes)."""
    counted = Counter((int(kind), *map(float, figures)) for kind, *figures in rows)
    if weight_bytes is None:
        weighted = [(row, n) for row, n in counted.items() if row[0] != _KIND_MEMORY and row[3]]
        weight_bytes = sum(row[3] * n for row, n in weighted)
        casts = sum(n for _, n in weighted)
    return KernelTrace(
        rows=tuple(counted),  # type: ignore[arg-type]  # ten-tuples, as built above
        counts=tuple(counted.values()),
        cast_bytes=weight_bytes,
        casts=casts,
    )


@functools.lru_cache(maxsize=8192)
def trace_kernels(cfg: ModelConfig, *, train: bool = False) -> KernelTrace:
    """The kernels of ``cfg``'s forward pass (eval mode) or training step, traced on meta.

    Cached per config. A forward pass is one trace at batch 1 (parameters and buffers are the
    fixed bytes); a training step takes two, at batch 2 and 4, plus the optimizer's kernels and
    a second cast of every weight (its gradient, back to fp32). NAS-Bench-201 forward passes are
    composed from cached traces of their edge ops (``_nb201_rows``), so all 15,625 take seconds.

    Raises:
        ValueError: when the two training traces disagree on the ops (a batch-dependent layout).
    """
    if not train:
        compose = _COMPOSED.get(cfg.family)
        return _trace(compose(cfg) if compose else _forward_rows(cfg))
    import torch

    from archbench.models import build_model, count_params

    with torch.device("meta"):
        model = build_model(cfg)
    shape = (cfg.in_channels, cfg.input_size, cfg.input_size)
    rows = _train_rows(model, shape) + _optimizer_kernels(count_params(cfg))
    weights = [4.0 * p.numel() for p in model.parameters() if p.dim() >= 2]
    return _trace(rows, 2 * sum(weights), 2 * len(weights))


@functools.lru_cache(maxsize=64)
def _forward_rows(cfg: ModelConfig) -> tuple[Row, ...]:
    import torch

    from archbench.models import build_model

    with torch.device("meta"):
        model = build_model(cfg)
    return tuple(_rows(_record(model, (cfg.in_channels, cfg.input_size, cfg.input_size), 1, False)))


@functools.lru_cache(maxsize=64)
def _edge_rows(op: str, channels: int, size: int) -> tuple[Row, ...]:
    import torch

    from archbench.models._nb201_net import edge_op

    with torch.device("meta"):
        module = edge_op(op, channels)
    return tuple(_rows(_record(module, (channels, size, size), 1, False)))


def _nb201_rows(cfg: Any) -> list[Row]:
    """An NB201 forward pass: the net with every edge a skip (stem, reductions, head and the
    sums of each node), plus each stage's edge ops times its cells. The tests hold it equal to
    the traced net."""
    import dataclasses

    from archbench.models._nb201 import format_arch

    skeleton = dataclasses.replace(cfg, arch=format_arch(("skip_connect",) * 6))
    rows = list(_forward_rows(skeleton))
    size, channels = cfg.input_size, cfg.channels
    for stage in range(3):
        if stage:
            size, channels = (size + 1) // 2, 2 * channels
        for op in cfg.edges:
            rows += _edge_rows(op, channels, size) * cfg.cells_per_stage
    return rows


_COMPOSED: dict[str, Callable[[Any], list[Row]]] = {"nb201": _nb201_rows}


@dataclass(frozen=True)
class LatencyPrediction:
    """Predicted time of one call at ``batch_size``, and its split.

    Attributes:
        ms: the whole call.
        images_per_second: ``batch_size`` over the call's time.
        kernels: kernels the call launches (with autocast's casts at lower precision).
        compute_bound_ms, memory_bound_ms: kernels limited by FLOPs, and by bytes.
        launch_ms, overhead_ms: the fixed costs.
    """

    ms: float
    images_per_second: float
    batch_size: int
    kernels: int
    compute_bound_ms: float
    memory_bound_ms: float
    launch_ms: float
    overhead_ms: float


class TraceSet:
    """The kernels of many configs as counts of distinct kernels, so that one prediction or one
    step of a fit is a handful of numpy operations however many configs there are.

    Nets of one family repeat the same few kernel shapes (the 15,625 NAS-Bench-201 nets hold
    4 million kernels of a few hundred kinds): each distinct kernel is timed once, and a sparse
    count matrix sums the times per config.
    """

    def __init__(self, traces: Sequence[KernelTrace]) -> None:
        from scipy.sparse import csr_matrix

        if not traces:
            raise ValueError("configs: no configs to predict")
        index: dict[Row, int] = {}
        owner, which, counts = [], [], []
        for i, trace in enumerate(traces):
            for row, count in zip(trace.rows, trace.counts):
                owner.append(i)
                which.append(index.setdefault(row, len(index)))
                counts.append(count)
        self.distinct = np.array(list(index), dtype=float).reshape(-1, len(_COLUMNS))
        self.counts = csr_matrix((counts, (owner, which)), shape=(len(traces), len(index)))
        self.kernels = np.array([t.kernels for t in traces])
        memory = [i for i, row in enumerate(index) if row[0] == _KIND_MEMORY]
        self.compute_kernels = self.kernels - np.asarray(self.counts[:, memory].sum(axis=1)).ravel()
        self.cast_bytes = np.array([t.cast_bytes for t in traces])
        self.casts = np.array([t.casts for t in traces])

    def __len__(self) -> int:
        return len(self.kernels)

    def _onednn(self, device: DeviceSpec, batch: float) -> np.ndarray:
        """Per distinct kernel: a convolution that ``device``, a CPU measured here, runs
        through oneDNN at ``batch``; none on any other device."""
        kind, path = self.distinct[:, 0], self.distinct[:, _COLUMNS.index("cpu_path")]
        if not (device.onednn_conv_us or device.onednn_block):
            return np.zeros(len(kind), dtype=bool)
        return (kind == _KIND_CONV) & _onednn_calls(path, batch, device.threads)

    def _roofline_ms(
        self,
        device: DeviceSpec,
        batch: float,
        precision: str,
        params: LatencyParams,
        onednn: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per distinct kernel at ``batch``: its time if compute-bound (else 0), and if
        memory-bound (else 0). A pooling kernel's memory time is the longer of its traffic and
        its window reads (``cache_speedup`` times faster); an exponential activation computes
        at the device's measured rate per value, and a convolution through oneDNN (``onednn``)
        on its channels padded to the device's blocks, where it has them."""
        kind, flops_fixed, flops_per_image, bytes_fixed, bytes_per_image, window, exp, _, *io = (
            self.distinct.T
        )
        peak = np.where(
            kind == _KIND_CONV,
            device.peak_flops(precision, convolution=True),
            device.peak_flops(precision, convolution=False),
        )
        width = 1.0 if precision == "fp32" else 0.5
        flops = flops_fixed + flops_per_image * batch
        if device.onednn_block:
            block, channels = device.onednn_block, np.maximum(io, 1.0)  # in and out
            padded = np.prod(np.ceil(channels / block) * block / channels, axis=0)
            flops = np.where(onednn, flops * padded, flops)
        compute = flops / (peak * params.compute_efficiency)
        compute = np.maximum(compute, exp * batch * device.exp_value_ns * 1e-9)
        nbytes = (bytes_fixed + bytes_per_image * batch) * width
        cached = window * batch * 4.0 * width / params.cache_speedup
        memory = np.maximum(nbytes, cached) / (device.memory_bandwidth * params.memory_efficiency)
        bound = compute > memory
        return 1e3 * np.where(bound, compute, 0.0), 1e3 * np.where(bound, 0.0, memory)

    def parts(
        self,
        device: DeviceSpec,
        batch_size: int | np.ndarray,
        precision: str,
        params: LatencyParams,
    ) -> dict[str, np.ndarray]:
        """Per config: ``compute_ms``, ``memory_ms``, ``launch_ms`` (with a CPU's oneDNN
        convolution calls), ``overhead_ms``, ``kernels``."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision: {precision!r} is unknown; choose {', '.join(PRECISIONS)}")
        batch = np.broadcast_to(np.asarray(batch_size, dtype=float), self.kernels.shape)
        compute_ms, memory_ms = np.zeros(len(self)), np.zeros(len(self))
        onednn_calls = np.zeros(len(self))
        for value in np.unique(batch):
            rows = np.flatnonzero(batch == value)
            onednn = self._onednn(device, float(value))
            compute, memory = self._roofline_ms(device, float(value), precision, params, onednn)
            compute_ms[rows] = self.counts[rows] @ compute
            memory_ms[rows] = self.counts[rows] @ memory
            onednn_calls[rows] = self.counts[rows] @ onednn.astype(float)
        kernels = self.kernels.copy()
        if precision != "fp32":  # autocast's weight casts: read fp32, write half
            bandwidth = device.memory_bandwidth * params.memory_efficiency
            memory_ms = memory_ms + 1e3 * self.cast_bytes * 1.5 / bandwidth
            kernels = kernels + self.casts
        launch_us = (
            kernels * params.launch_us
            + self.compute_kernels * params.compute_launch_us
            + onednn_calls * device.onednn_conv_us
        )
        return {
            "compute_ms": compute_ms,
            "memory_ms": memory_ms,
            "launch_ms": launch_us * 1e-3,
            "overhead_ms": np.full(len(self), params.overhead_ms),
            "kernels": kernels,
        }

    def predict_ms(
        self,
        device: DeviceSpec,
        batch_size: int | np.ndarray,
        precision: str,
        params: LatencyParams,
    ) -> np.ndarray:
        """Predicted milliseconds per config."""
        parts = self.parts(device, batch_size, precision, params)
        return parts["compute_ms"] + parts["memory_ms"] + parts["launch_ms"] + parts["overhead_ms"]

    def predictions(
        self, device: DeviceSpec, batch_size: int, precision: str, params: LatencyParams
    ) -> list[LatencyPrediction]:
        parts = self.parts(device, batch_size, precision, params)
        total = self.predict_ms(device, batch_size, precision, params)
        return [
            LatencyPrediction(
                ms=float(total[i]),
                images_per_second=batch_size / (float(total[i]) * 1e-3),
                batch_size=batch_size,
                kernels=int(parts["kernels"][i]),
                compute_bound_ms=float(parts["compute_ms"][i]),
                memory_bound_ms=float(parts["memory_ms"][i]),
                launch_ms=float(parts["launch_ms"][i]),
                overhead_ms=float(parts["overhead_ms"][i]),
            )
            for i in range(len(self))
        ]


def predict_latency(
    cfgs: Sequence[ModelConfig],
    device: DeviceSpec,
    *,
    batch_size: int = 1,
    precision: str = "fp32",
    train: bool = False,
    params: LatencyParams | None = None,
) -> list[LatencyPrediction]:
    """Predicted time of a forward pass (or a training step) of each config at ``batch_size``.

    Args:
        cfgs: the architectures.
        device: a ``DeviceSpec`` (``get_device``), calibrated or not.
        batch_size: images per call.
        precision: ``fp32``, ``bf16`` or ``fp16`` (autocast).
        train: a training step (forward, cross-entropy, backward, SGD) instead of inference.
        params: parameters to use instead of the device's.

    Raises:
        ValueError: for a batch size below 1, an unknown precision or one the device lacks.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    traces = TraceSet([trace_kernels(cfg, train=train) for cfg in cfgs])
    return traces.predictions(device, batch_size, precision, params or device.params)


# efficiencies, launch (us), extra launch of a convolution or matmul (us), overhead (ms),
# cache speedup (window reads from 100 times slower than memory, a CPU's scalar pooling loop,
# to 100 times faster; on a GPU at least as fast as memory: one thread per output reads its
# window through L1 and L2)
_LOWER = np.log([1e-4, 1e-4, 1e-3, 1e-3, 1e-5, 1e-2])
_UPPER = np.log([1.0, 1.0, 1e5, 1e5, 1e4, 100.0])
_GPU_LOWER = np.r_[_LOWER[:-1], 0.0]


def _lower(device: DeviceSpec) -> np.ndarray:
    return _LOWER if device.kind == "cpu" else _GPU_LOWER


def _vector(params: LatencyParams) -> np.ndarray:
    values = [
        params.compute_efficiency,
        params.memory_efficiency,
        params.launch_us,
        params.compute_launch_us,
        params.overhead_ms,
        params.cache_speedup,
    ]
    return np.clip(np.log(values), _LOWER, _UPPER)


def _params(vector: np.ndarray) -> LatencyParams:
    e_c, e_m, launch, compute_launch, overhead, cache = np.exp(np.clip(vector, _LOWER, _UPPER))
    return LatencyParams(
        compute_efficiency=float(min(e_c, 1.0)),
        memory_efficiency=float(min(e_m, 1.0)),
        launch_us=float(launch),
        compute_launch_us=float(compute_launch),
        overhead_ms=float(overhead),
        cache_speedup=float(cache),
    )


def check_measurements(measured_ms: Sequence[float] | np.ndarray) -> np.ndarray:
    """The measurements as an array.

    Raises:
        ValueError: for one that is not a positive number, or fewer than the fit needs.
    """
    measured = np.asarray(measured_ms, dtype=float)
    bad = [value for value in measured if not (math.isfinite(value) and value > 0)]
    if bad:
        raise ValueError(f"latency_ms: every measurement must be a positive number, got {bad[0]}")
    if len(measured) < MIN_MEASUREMENTS:
        raise ValueError(
            f"measurements: the fit needs at least {MIN_MEASUREMENTS}, got {len(measured)}"
        )
    return measured


def fit_params(
    traces: TraceSet,
    measured_ms: Sequence[float] | np.ndarray,
    device: DeviceSpec,
    *,
    batch_size: int | np.ndarray = 1,
    precision: str = "fp32",
) -> LatencyParams:
    """The parameters that best predict ``measured_ms`` of ``traces`` on ``device``.

    Robust least squares (``scipy.optimize.least_squares``, soft-L1 loss) on the log of
    predicted over measured time, over log-parameters bounded to stay physical (efficiencies
    in [1e-4, 1], launch and overhead positive, window reads within 100 times the memory
    rate either way on a CPU, at least the memory rate on a GPU), from the device kind's
    zero-shot defaults, which a weak prior
    (``PRIOR_WEIGHT``) also pulls toward.

    Raises:
        ValueError: for fewer than ``MIN_MEASUREMENTS`` measurements, or one that is not a
            positive number.
    """
    from scipy.optimize import least_squares

    measured = check_measurements(measured_ms)
    if len(traces) != len(measured):
        raise ValueError(f"measurements: {len(traces)} configs but {len(measured)} latencies")
    prior = _vector(CPU_DEFAULTS if device.kind == "cpu" else GPU_DEFAULTS)

    def residuals(vector: np.ndarray) -> np.ndarray:
        predicted = traces.predict_ms(device, batch_size, precision, _params(vector))
        return np.concatenate([np.log(predicted / measured), PRIOR_WEIGHT * (vector - prior)])

    bounds = (_lower(device), _UPPER)
    result = least_squares(residuals, prior, bounds=bounds, loss="soft_l1", f_scale=0.1)
    return _params(result.x)


def calibrate(
    cfgs: Sequence[ModelConfig],
    measured_ms: Sequence[float] | np.ndarray,
    device: DeviceSpec,
    *,
    batch_size: int | Sequence[int] = 1,
    precision: str = "fp32",
    train: bool = False,
) -> DeviceSpec:
    """``device`` with parameters fitted to ``measured_ms`` of ``cfgs`` at ``batch_size`` (one
    for all, or one per measurement: a few at batch 1 and a few at a large batch pin both the
    fixed costs and the efficiencies)."""
    measured = check_measurements(measured_ms)
    batches = np.broadcast_to(np.asarray(batch_size, dtype=int), measured.shape)
    if batches.min() < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batches.min()}")
    traces = TraceSet([trace_kernels(cfg, train=train) for cfg in cfgs])
    params = fit_params(traces, measured, device, batch_size=batches, precision=precision)
    predicted = traces.predict_ms(device, batches, precision, params)
    calibration = Calibration(
        params=params,
        batch_sizes=tuple(sorted({int(batch) for batch in batches})),
        precision=precision,  # type: ignore[arg-type]  # checked by predict_ms
        train=train,
        measurements=len(measured),
        median_relative_error=float(np.median(np.abs(predicted / measured - 1))),
    )
    return calibrated(device, calibration)
