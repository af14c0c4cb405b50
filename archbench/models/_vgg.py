"""The VGG family: plain conv networks (Simonyan and Zisserman, 2015) with a CIFAR head.

Everything here is pure Python: the config and its stages, the exact parameter and FLOPs counts
(which follow the ``_layout`` pooling plan that the torch builder, ``_vgg_net.py``, also follows),
the width scaler, the decoder of a space's flat params, the presets and the family's
registration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from archbench import _dataclass_io
from archbench.models._config import Activation, ModelConfig, PoolType, require, require_range
from archbench.models._count import conv_bias_params, conv_bn_params, linear_params
from archbench.models._count_flops import conv_flops, linear_flops
from archbench.models._decode import (
    MAX_ITEMS,
    int_knob,
    item_count,
    item_fields,
    required_knob,
    top_level,
)
from archbench.models._family import Family, register_family
from archbench.models._fit import scaled_items, scaled_width
from archbench.models._layout import conv_output_size, pool_output_size
from archbench.models._presets import Preset, register_presets


@dataclass(frozen=True)
class VGGStage:
    """One VGG stage: ``convs`` 'same' convolutions followed by a 2x2 pooling."""

    convs: int
    channels: int
    kernel_size: int = 3

    def check(self, where: str) -> None:
        require_range(f"{where}.convs", self.convs, 1, 4)
        require_range(f"{where}.channels", self.channels, 1, 4096)
        require(
            self.kernel_size in (1, 3, 5, 7),
            f"{where}.kernel_size",
            f"must be 1, 3, 5 or 7, got {self.kernel_size}",
        )


@dataclass(frozen=True, kw_only=True)
class VGGConfig(ModelConfig):
    """A VGG-style plain network (Simonyan and Zisserman, 2015) with a CIFAR head."""

    family: Literal["vgg"] = "vgg"
    stages: tuple[VGGStage, ...]
    batch_norm: bool = True
    pool: PoolType = "max"
    classifier: tuple[int, ...] = ()
    dropout: float = 0.0
    activation: Activation = "relu"

    def __post_init__(self) -> None:
        self._check_shape()
        require(
            1 <= len(self.stages) <= 6, "stages", f"needs 1 to 6 stages, got {len(self.stages)}"
        )
        for i, stage in enumerate(self.stages):
            stage.check(f"stages[{i}]")
        require(len(self.classifier) <= 3, "classifier", "at most 3 hidden layers")
        for i, width in enumerate(self.classifier):
            require_range(f"classifier[{i}]", width, 1, 8192)
        require(0.0 <= self.dropout < 1.0, "dropout", f"must be in [0, 1), got {self.dropout}")


def vgg_pools(cfg: VGGConfig) -> list[bool]:
    """Whether each stage ends with a 2x2 pool (skipped once the map is 1x1)."""
    pools, size = [], cfg.input_size
    for _ in cfg.stages:
        pools.append(size > 1)
        size = pool_output_size(size, 2) if size > 1 else 1
    return pools


def count_vgg(cfg: VGGConfig) -> int:
    conv = conv_bn_params if cfg.batch_norm else conv_bias_params
    total, in_channels = 0, cfg.in_channels
    for stage in cfg.stages:
        for _ in range(stage.convs):
            total += conv(in_channels, stage.channels, stage.kernel_size)
            in_channels = stage.channels
    for width in cfg.classifier:
        total += linear_params(in_channels, width)
        in_channels = width
    return total + linear_params(in_channels, cfg.num_classes)


def vgg_flops(cfg: VGGConfig) -> int:
    total, cin, size = 0, cfg.in_channels, cfg.input_size
    for stage, pooled in zip(cfg.stages, vgg_pools(cfg)):
        for _ in range(stage.convs):
            size = conv_output_size(size, stage.kernel_size, 1)
            total += conv_flops(cin, stage.channels, stage.kernel_size, size)
            cin = stage.channels
        if pooled:
            size = pool_output_size(size, 2)
    for width in cfg.classifier:
        total += linear_flops(cin, width)
        cin = width
    return total + linear_flops(cin, cfg.num_classes)


def scale_vgg(cfg: VGGConfig, multiplier: float) -> VGGConfig:
    return dataclasses.replace(
        cfg,
        stages=scaled_items(cfg.stages, multiplier),
        classifier=tuple(scaled_width(w, multiplier) for w in cfg.classifier),
    )


def decode_vgg(params: Mapping[str, Any]) -> VGGConfig:
    stages = [
        item_fields(params, "stage", i, VGGStage)
        for i in range(1, item_count(params, "num_stages", "stage") + 1)
    ]
    num_hidden = int_knob(params, "num_hidden", 0, MAX_ITEMS) if "num_hidden" in params else 0
    hidden = [
        required_knob(params, f"hidden{j}.width", f"num_hidden is {num_hidden}")
        for j in range(1, num_hidden + 1)
    ]
    data = {
        **top_level(params, VGGConfig, {"stages", "classifier"}),
        "stages": stages,
        "classifier": hidden,
    }
    return _dataclass_io.from_dict(VGGConfig, data)


register_family(
    Family(
        name="vgg",
        config_class=VGGConfig,
        builder="archbench.models._vgg_net:VGG",
        count=count_vgg,
        scale_widths=scale_vgg,
        decode=decode_vgg,
        flops=vgg_flops,
    )
)


def _stages(layout: list[tuple[int, int]]) -> list[dict[str, int]]:
    """3x3 stages from ``(convs, channels)`` pairs."""
    return [{"convs": n, "channels": c, "kernel_size": 3} for n, c in layout]


register_presets(
    Preset(
        "vgg11_cifar",
        "VGG-11 with batch norm (Simonyan and Zisserman 2015, config A) with a CIFAR head: "
        "global pooling and one linear layer.",
        {
            "family": "vgg",
            "stages": _stages([(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]),
        },
    ),
    Preset(
        "vgg16_cifar",
        "VGG-16 with batch norm (Simonyan and Zisserman 2015, config D) with a CIFAR head: "
        "global pooling and one linear layer.",
        {
            "family": "vgg",
            "stages": _stages([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]),
        },
    ),
    Preset(
        "airbench94_like",
        "The net of airbench94 (Jordan 2024, arXiv:2404.00498), the fast-CIFAR speed anchor, "
        "approximated with our VGG family: 3 stages of 2 convs at 64/256/256 with batch norm, "
        "GELU and max pooling, global pooling and one linear layer (airbench has a 2x2 "
        "whitening stem, and a 3x3 max pool before its head). About 1.96M params.",
        {
            "family": "vgg",
            "stages": _stages([(2, 64), (2, 256), (2, 256)]),
            "activation": "gelu",
        },
    ),
    Preset(
        "simple_cnn",
        "The classic first CNN: 3 conv layers at 32/64/128 with max pooling, a 512-wide hidden "
        "layer with dropout, then the classifier.",
        {
            "family": "vgg",
            "stages": _stages([(1, 32), (1, 64), (1, 128)]),
            "classifier": [512],
            "dropout": 0.3,
        },
    ),
)
