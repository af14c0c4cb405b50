"""The ResNet family: CIFAR-style residual networks (He et al., 2016, "Deep Residual Learning").

Everything here is pure Python: the config and its stages, the exact parameter and FLOPs counts
(which walk the ``_layout`` plans that the torch builder, ``_resnet_net.py``, also follows), the
width scaler, the decoder of a space's flat params, the presets and the family's registration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from archbench import _dataclass_io
from archbench.models._config import (
    Activation,
    ModelConfig,
    PoolType,
    check_regularizers,
    require,
    require_range,
)
from archbench.models._count import conv_bn_params, linear_params, squeeze_excitation_params
from archbench.models._count_flops import conv_flops, linear_flops, squeeze_excitation_flops
from archbench.models._decode import item_count, item_fields, top_level
from archbench.models._family import Family, register_family
from archbench.models._fit import scaled_items, scaled_width
from archbench.models._layout import (
    BOTTLENECK_EXPANSION,
    conv_output_size,
    effective_pool_kernel,
    needs_projection,
    pool_output_size,
    stochastic_depth_rate,
)
from archbench.models._presets import Preset, register_presets


@dataclass(frozen=True)
class ResNetStage:
    """One ResNet stage: ``depth`` residual blocks whose first block applies ``stride``."""

    depth: int
    channels: int
    kernel_size: int = 3
    stride: int = 1

    def check(self, where: str) -> None:
        require_range(f"{where}.depth", self.depth, 1, 8)
        require_range(f"{where}.channels", self.channels, 1, 4096)
        require(
            self.kernel_size in (3, 5, 7),
            f"{where}.kernel_size",
            f"must be 3, 5 or 7, got {self.kernel_size}",
        )
        require(self.stride in (1, 2), f"{where}.stride", f"must be 1 or 2, got {self.stride}")


@dataclass(frozen=True, kw_only=True)
class ResNetConfig(ModelConfig):
    """A CIFAR-style ResNet (He et al., 2016) with the knobs of a budgeted random search.

    ``pool_kernel`` 0 means global pooling before the classifier; a positive kernel pools with that
    kernel and stride (clipped to the feature map) and flattens what remains, so it changes the
    classifier's width. ``se_ratio`` 0 disables squeeze-and-excitation (Hu et al., 2018).
    ``zero_init_last`` starts the last batch norm of every residual branch at weight 0, so each
    block starts as its shortcut (Goyal et al., 2017; torchvision's ``zero_init_residual``, timm's
    ``zero_init_last``): thin, deep nets then train at a proxy's high learning rate.
    """

    family: Literal["resnet"] = "resnet"
    stem_channels: int = 64
    stem_kernel: int = 3
    stages: tuple[ResNetStage, ...]
    block: Literal["basic", "bottleneck"] = "basic"
    skip_kernel: int = 1
    always_project: bool = False
    pool: PoolType = "avg"
    pool_kernel: int = 0
    se_ratio: float = 0.0
    stochastic_depth: float = 0.0
    activation: Activation = "relu"
    zero_init_last: bool = True

    def __post_init__(self) -> None:
        self._check_shape()
        require_range("stem_channels", self.stem_channels, 1, 4096)
        require(
            self.stem_kernel in (3, 5, 7),
            "stem_kernel",
            f"must be 3, 5 or 7, got {self.stem_kernel}",
        )
        require(
            1 <= len(self.stages) <= 5, "stages", f"needs 1 to 5 stages, got {len(self.stages)}"
        )
        for i, stage in enumerate(self.stages):
            stage.check(f"stages[{i}]")
            if self.block == "bottleneck":
                require(
                    stage.channels % 4 == 0,
                    f"stages[{i}].channels",
                    f"must be a multiple of 4 for bottleneck blocks, got {stage.channels}",
                )
        require(
            self.skip_kernel in (1, 3), "skip_kernel", f"must be 1 or 3, got {self.skip_kernel}"
        )
        require(
            self.pool_kernel >= 0,
            "pool_kernel",
            f"must be >= 0 (0 = global), got {self.pool_kernel}",
        )
        check_regularizers(self.se_ratio, self.stochastic_depth)


class ResidualBlockPlan(NamedTuple):
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    project: bool
    drop_rate: float

    @property
    def mid_channels(self) -> int:
        """Inner width of a bottleneck block: the output width divided by the expansion."""
        return self.out_channels // BOTTLENECK_EXPANSION


class ResNetStagePlan(NamedTuple):
    """A stage as the counter sees it: a first block that may project, then repeats."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    depth: int
    first_projects: bool
    repeats_project: bool


def resnet_stages(cfg: ResNetConfig) -> list[ResNetStagePlan]:
    plans = []
    in_channels = cfg.stem_channels
    for stage in cfg.stages:
        plans.append(
            ResNetStagePlan(
                in_channels=in_channels,
                out_channels=stage.channels,
                kernel_size=stage.kernel_size,
                stride=stage.stride,
                depth=stage.depth,
                first_projects=cfg.always_project
                or needs_projection(in_channels, stage.channels, stage.stride),
                repeats_project=cfg.always_project,
            )
        )
        in_channels = stage.channels
    return plans


def resnet_blocks(cfg: ResNetConfig) -> list[ResidualBlockPlan]:
    """Every residual block of the network, in order, with its stochastic-depth rate."""
    total = sum(stage.depth for stage in cfg.stages)
    plans: list[ResidualBlockPlan] = []
    for stage in resnet_stages(cfg):
        for i in range(stage.depth):
            first = i == 0
            plans.append(
                ResidualBlockPlan(
                    in_channels=stage.in_channels if first else stage.out_channels,
                    out_channels=stage.out_channels,
                    kernel_size=stage.kernel_size,
                    stride=stage.stride if first else 1,
                    project=stage.first_projects if first else stage.repeats_project,
                    drop_rate=stochastic_depth_rate(cfg.stochastic_depth, len(plans), total),
                )
            )
    return plans


def resnet_feature_size(cfg: ResNetConfig) -> int:
    size = conv_output_size(cfg.input_size, cfg.stem_kernel, 1)
    for stage in cfg.stages:
        size = conv_output_size(size, stage.kernel_size, stage.stride)
    return size


def resnet_head_features(cfg: ResNetConfig) -> int:
    """Inputs of the classifier: channels times what is left of the map after pooling."""
    size = resnet_feature_size(cfg)
    kernel = effective_pool_kernel(cfg.pool_kernel, size)
    remaining = pool_output_size(size, kernel)
    return cfg.stages[-1].channels * remaining * remaining


def _residual_block_params(
    cfg: ResNetConfig, in_channels: int, out: int, kernel: int, project: bool
) -> int:
    if cfg.block == "bottleneck":
        mid = out // BOTTLENECK_EXPANSION
        body = (
            conv_bn_params(in_channels, mid, 1)
            + conv_bn_params(mid, mid, kernel)
            + conv_bn_params(mid, out, 1)
        )
    else:
        body = conv_bn_params(in_channels, out, kernel) + conv_bn_params(out, out, kernel)
    skip = conv_bn_params(in_channels, out, cfg.skip_kernel) if project else 0
    return body + squeeze_excitation_params(out, cfg.se_ratio) + skip


def count_resnet(cfg: ResNetConfig) -> int:
    total = conv_bn_params(cfg.in_channels, cfg.stem_channels, cfg.stem_kernel)
    for stage in resnet_stages(cfg):
        out, k = stage.out_channels, stage.kernel_size
        total += _residual_block_params(cfg, stage.in_channels, out, k, stage.first_projects)
        total += (stage.depth - 1) * _residual_block_params(cfg, out, out, k, stage.repeats_project)
    return total + linear_params(resnet_head_features(cfg), cfg.num_classes)


def resnet_flops(cfg: ResNetConfig) -> int:
    size = conv_output_size(cfg.input_size, cfg.stem_kernel, 1)
    total = conv_flops(cfg.in_channels, cfg.stem_channels, cfg.stem_kernel, size)
    for block in resnet_blocks(cfg):
        k, cin, out = block.kernel_size, block.in_channels, block.out_channels
        out_size = conv_output_size(size, k, block.stride)
        if cfg.block == "bottleneck":
            mid = block.mid_channels
            total += conv_flops(cin, mid, 1, size) + conv_flops(mid, mid, k, out_size)
            total += conv_flops(mid, out, 1, out_size)
        else:
            total += conv_flops(cin, out, k, out_size) + conv_flops(out, out, k, out_size)
        total += squeeze_excitation_flops(out, cfg.se_ratio)
        if block.project:
            skip_size = conv_output_size(size, cfg.skip_kernel, block.stride)
            total += conv_flops(cin, out, cfg.skip_kernel, skip_size)
        size = out_size
    return total + linear_flops(resnet_head_features(cfg), cfg.num_classes)


def scale_resnet(cfg: ResNetConfig, multiplier: float) -> ResNetConfig:
    return dataclasses.replace(
        cfg,
        stem_channels=scaled_width(cfg.stem_channels, multiplier),
        stages=scaled_items(cfg.stages, multiplier),
    )


def decode_resnet(params: Mapping[str, Any]) -> ResNetConfig:
    stages = []
    for i in range(1, item_count(params, "num_stages", "stage") + 1):
        stage = item_fields(params, "stage", i, ResNetStage)
        stage.setdefault("stride", 1 if i == 1 else 2)
        stages.append(stage)
    data = {**top_level(params, ResNetConfig, {"stages"}), "stages": stages}
    return _dataclass_io.from_dict(ResNetConfig, data)


register_family(
    Family(
        name="resnet",
        config_class=ResNetConfig,
        builder="archbench.models._resnet_net:ResNet",
        count=count_resnet,
        scale_widths=scale_resnet,
        decode=decode_resnet,
        flops=resnet_flops,
    )
)


def _stages(depths: list[int], channels: list[int]) -> list[dict[str, int]]:
    """Stages of 3x3 blocks, the first at stride 1 and every later one at stride 2."""
    return [
        {"depth": d, "channels": c, "kernel_size": 3, "stride": 1 if i == 0 else 2}
        for i, (d, c) in enumerate(zip(depths, channels))
    ]


register_presets(
    Preset(
        "resnet18_cifar",
        "ResNet-18 for CIFAR (He et al. 2016; the kuangliu/pytorch-cifar layout): 3x3 stem, "
        "4 stages of 2 basic blocks at 64-512, 1x1 projections. 11,173,962 params.",
        {
            "family": "resnet",
            "stem_channels": 64,
            "stages": _stages([2, 2, 2, 2], [64, 128, 256, 512]),
        },
    ),
    Preset(
        "resnet20_cifar",
        "ResNet-20 of He et al. 2016, section 4.2: 3 stages of 3 basic blocks at 16/32/64, "
        "with 1x1 projection shortcuts (option B) where shapes change.",
        {
            "family": "resnet",
            "stem_channels": 16,
            "stages": _stages([3, 3, 3], [16, 32, 64]),
        },
    ),
    Preset(
        "resnet_5m",
        "The seed of this project: the best config of a random search under a 5M cap that "
        "reached 94.6% on CIFAR-10: 3 stages of 4/4/3 basic blocks at 64/128/256, SE (ratio 1/16), "
        "1x1 skips. 4,733,610 params.",
        {
            "family": "resnet",
            "stem_channels": 64,
            "stages": _stages([4, 4, 3], [64, 128, 256]),
            "skip_kernel": 1,
            "se_ratio": 0.0625,
        },
    ),
    Preset(
        "quizdnn",
        "A small 11-layer residual net (stem, 5 basic blocks, classifier) of about 0.3M params, "
        "the quiz-sized baseline of the seed project.",
        {
            "family": "resnet",
            "stem_channels": 32,
            "stages": _stages([1, 2, 2], [32, 48, 80]),
        },
    ),
)
