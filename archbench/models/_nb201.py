"""The NAS-Bench-201 family: the cell network of Dong and Yang (ICLR 2020, arXiv:2001.00326).

A cell is a 4-node DAG; node j sums op(i -> j)(node i) over i < j and node 3 is the output, so a
cell is its six edge ops, written as the benchmark's arch string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (group k lists the inputs of node k, ``~i`` the source).
The network (``TinyNetwork`` of the authors' AutoDL-Projects): a 3x3 conv and BN stem; three
stages of ``cells_per_stage`` cells at ``channels``, 2x and 4x that width, with a ResNet basic
block of stride 2 between stages (ReLU-conv-BN twice; shortcut 2x2 average pool then 1x1 conv);
then BN, ReLU, global average pooling and a linear classifier. Convs have no bias; every BN is
affine.

Everything here is pure Python: the config and its arch string, the layer plan that both the
analytic counts and the torch builder (``_nb201_net.py``) follow, the width scaler, the decoder
of the ``nb201`` space, the presets and the family's registration. ``tests/models/test_nb201.py``
holds the counts equal to NASLib's published params and FLOPs of 724 archs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from archbench import _dataclass_io
from archbench.models._config import ModelConfig
from archbench.models._family import Family, register_family
from archbench.models._fit import scaled_width
from archbench.models._presets import Preset, register_presets

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# The six edges (source, target) in the order of the arch string, and their space knobs.
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
EDGE_KNOBS = tuple(f"edge_{source}_{target}" for source, target in EDGES)
CONV_KERNELS = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}
_ARCH_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"


def parse_arch(arch: str) -> tuple[str, ...]:
    """The six edge ops of an arch string, in ``EDGES`` order.

    Raises:
        ValueError: one line, for a string not of the form ``|op~0|+|op~0|op~1|+|...|`` or an op
            that is not one of ``OPS``.
    """
    nodes = arch.split("+") if isinstance(arch, str) else []
    ops: list[str] = []
    for target, node in enumerate(nodes, 1):
        inputs = node[1:-1].split("|") if len(node) > 2 and node[0] == node[-1] == "|" else []
        sources = [text.rpartition("~") for text in inputs]
        if [source for _, _, source in sources] != [str(i) for i in range(target)]:
            break
        ops.extend(op for op, _, _ in sources)
    if len(nodes) != 3 or len(ops) != len(EDGES):
        raise ValueError(
            f"arch: {arch!r} is not a NAS-Bench-201 arch string; expected {_ARCH_FORM} "
            f"with each op one of {', '.join(OPS)}"
        )
    for op, (source, target) in zip(ops, EDGES):
        if op not in OPS:
            raise ValueError(
                f"arch: {op!r} on edge {source}->{target} is not an op; choose one of "
                f"{', '.join(OPS)}"
            )
    return tuple(ops)


def format_arch(ops: tuple[str, ...] | list[str]) -> str:
    """The arch string of six edge ops given in ``EDGES`` order."""
    if len(ops) != len(EDGES):
        raise ValueError(f"arch: needs {len(EDGES)} edge ops, got {len(ops)}")
    groups = []
    for target, start in ((1, 0), (2, 1), (3, 3)):  # node k's inputs start at edge k(k-1)/2
        inputs = ops[start : start + target]
        groups.append("".join(f"|{op}~{source}" for source, op in enumerate(inputs)) + "|")
    return "+".join(groups)


@dataclass(frozen=True, kw_only=True)
class NB201Config(ModelConfig):
    """A NAS-Bench-201 network: the cell's arch string and the macro skeleton's size.

    ``channels`` is the first stage's width (C, 16 in the benchmark) and ``cells_per_stage`` the
    cells in each of the three stages (N, 5 in the benchmark).
    """

    family: Literal["nb201"] = "nb201"
    arch: str
    channels: int = 16
    cells_per_stage: int = 5

    def __post_init__(self) -> None:
        self._check_shape()
        parse_arch(self.arch)
        for name, value, high in (
            ("channels", self.channels, 1024),
            ("cells_per_stage", self.cells_per_stage, 32),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise ValueError(f"{name}: must be an integer in [1, {high}], got {value!r}")

    @property
    def edges(self) -> tuple[str, ...]:
        """The six edge ops, in ``EDGES`` order."""
        return parse_arch(self.arch)


LayerKind = Literal["conv", "batch_norm", "relu", "avg_pool", "global_pool", "linear"]


class Layer(NamedTuple):
    """One layer of the forward pass: what counting parameters and FLOPs needs to know of it.

    Sizes are the sides of the square input and output maps (1 for ``linear``).
    """

    kind: LayerKind
    in_channels: int
    out_channels: int
    kernel_size: int
    in_size: int
    out_size: int


def _relu_conv_bn(cin: int, cout: int, kernel: int, size: int, stride: int) -> Iterator[Layer]:
    out = (size + 2 * (kernel // 2) - kernel) // stride + 1
    yield Layer("relu", cin, cin, 1, size, size)
    yield Layer("conv", cin, cout, kernel, size, out)
    yield Layer("batch_norm", cout, cout, 1, out, out)


def _cell(cfg: NB201Config, channels: int, size: int) -> Iterator[Layer]:
    for op in cfg.edges:
        if op in CONV_KERNELS:
            yield from _relu_conv_bn(channels, channels, CONV_KERNELS[op], size, 1)
        elif op == "avg_pool_3x3":
            yield Layer("avg_pool", channels, channels, 3, size, size)


def _reduction(cin: int, cout: int, size: int) -> Iterator[Layer]:
    """NAS-Bench-201's ``ResNetBasicblock`` of stride 2: two ReLU-conv-BN, pooled 1x1 shortcut."""
    out = (size + 1) // 2
    yield from _relu_conv_bn(cin, cout, 3, size, 2)
    yield from _relu_conv_bn(cout, cout, 3, out, 1)
    yield Layer("avg_pool", cin, cin, 2, size, out)
    yield Layer("conv", cin, cout, 1, out, out)


def nb201_layers(cfg: NB201Config) -> Iterator[Layer]:
    """Every layer that ``build_model(cfg)`` runs, in order (``none`` and skips have none)."""
    size, channels = cfg.input_size, cfg.channels
    yield Layer("conv", cfg.in_channels, channels, 3, size, size)
    yield Layer("batch_norm", channels, channels, 1, size, size)
    for stage in range(3):
        if stage:
            yield from _reduction(channels, 2 * channels, size)
            size, channels = (size + 1) // 2, 2 * channels
        for _ in range(cfg.cells_per_stage):
            yield from _cell(cfg, channels, size)
    yield Layer("batch_norm", channels, channels, 1, size, size)
    yield Layer("relu", channels, channels, 1, size, size)
    yield Layer("global_pool", channels, channels, size, size, 1)
    yield Layer("linear", channels, cfg.num_classes, 1, 1, 1)


def count_nb201(cfg: NB201Config) -> int:
    """Conv weights (no bias), affine BN 2 per channel, linear weights and bias."""
    total = 0
    for layer in nb201_layers(cfg):
        if layer.kind == "conv":
            total += layer.out_channels * layer.in_channels * layer.kernel_size**2
        elif layer.kind == "batch_norm":
            total += 2 * layer.out_channels
        elif layer.kind == "linear":
            total += layer.in_channels * layer.out_channels + layer.out_channels
    return total


def nb201_flops(cfg: NB201Config) -> int:
    """Forward FLOPs per image as ``FlopCounterMode`` counts them: 2 per multiply-add of convs and
    the classifier; BN, ReLU, pooling and the sums of a cell's nodes are free."""
    total = 0
    for layer in nb201_layers(cfg):
        if layer.kind == "conv":
            macs = layer.out_channels * layer.in_channels * layer.kernel_size**2
            total += 2 * macs * layer.out_size**2
        elif layer.kind == "linear":
            total += 2 * layer.in_channels * layer.out_channels
    return total


def scale_nb201(cfg: NB201Config, multiplier: float) -> NB201Config:
    return dataclasses.replace(cfg, channels=scaled_width(cfg.channels, multiplier))


def decode_nb201(params: Mapping[str, Any]) -> NB201Config:
    """A config from the six ``edge_{source}_{target}`` knobs (plus optional size knobs)."""
    missing = [knob for knob in EDGE_KNOBS if knob not in params]
    if missing:
        raise ValueError(f"params: missing knob {missing[0]!r} (an nb201 space sets all six edges)")
    ops = [params[knob] for knob in EDGE_KNOBS]
    for knob, op in zip(EDGE_KNOBS, ops):
        if op not in OPS:
            raise ValueError(f"params: {knob}={op!r} is not an op; choose one of {', '.join(OPS)}")
    sizes = {key: params[key] for key in ("channels", "cells_per_stage") if key in params}
    return _dataclass_io.from_dict(NB201Config, {"arch": format_arch(ops), **sizes})


def config_from_arch(arch: str) -> NB201Config:
    """The benchmark's network (C 16, N 5, 3x32x32 inputs, 10 classes) of an arch string."""
    return NB201Config(arch=arch)


register_family(
    Family(
        name="nb201",
        config_class=NB201Config,
        builder="archbench.models._nb201_net:NB201Net",
        count=count_nb201,
        scale_widths=scale_nb201,
        decode=decode_nb201,
        flops=nb201_flops,
    )
)

register_presets(
    Preset(
        "nb201_best_cifar10",
        "The best NAS-Bench-201 cell on CIFAR-10 (index 6111, 94.37% test accuracy after 200 "
        "epochs, Dong and Yang 2020) in the benchmark's network: C 16, N 5. 1,073,466 params.",
        {
            "family": "nb201",
            "arch": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
            "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
        },
    ),
    Preset(
        "nb201_resnet",
        "The NAS-Bench-201 cell that makes the benchmark's network a ResNet (index 11472: "
        "node 3 = x + conv3x3(conv3x3(x)); 93.91% on CIFAR-10 after 200 epochs).",
        {
            "family": "nb201",
            "arch": "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|"
            "+|skip_connect~0|none~1|skip_connect~2|",
        },
    ),
)
