"""The channel and shape arithmetic shared by the builder and the analytic counter.

Both ``build_model`` and ``count_params`` walk the plans made here, so there is one source of
truth for widths, strides, projections and head sizes (timm's pure ``make_blocks`` idea).
Pure Python: no torch import. Plans are named tuples because the counter builds thousands of
them per second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from archbench.models._branchnet import BranchNetConfig
    from archbench.models._resnet import ResNetConfig
    from archbench.models._vgg import VGGConfig

BOTTLENECK_EXPANSION = 4


def same_padding(kernel_size: int) -> int:
    return (kernel_size - 1) // 2


def conv_output_size(size: int, kernel_size: int, stride: int) -> int:
    """Spatial size after a 'same'-padded convolution (ceil(size / stride) for odd kernels)."""
    padding = same_padding(kernel_size)
    return (size + 2 * padding - kernel_size) // stride + 1


def pool_output_size(size: int, kernel_size: int) -> int:
    """Spatial size after pooling with ``kernel_size`` and stride, ``ceil_mode=True``."""
    return -(-(size - kernel_size) // kernel_size) + 1


def needs_projection(in_channels: int, out_channels: int, stride: int) -> bool:
    """A residual shortcut needs a conv where the shape changes; identity elsewhere."""
    return stride != 1 or in_channels != out_channels


def squeeze_channels(channels: int, se_ratio: float) -> int:
    """Width of the squeeze-and-excitation bottleneck (0 when SE is off)."""
    return max(1, int(channels * se_ratio)) if se_ratio > 0 else 0


def stochastic_depth_rate(rate: float, index: int, total: int) -> float:
    """Linear schedule: 0 for the first block, ``rate`` for the last (Huang et al., 2016)."""
    return rate * index / (total - 1) if total > 1 else rate


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


def effective_pool_kernel(pool_kernel: int, feature_size: int) -> int:
    """The head's pooling kernel: 0 (global) or a kernel clipped to the feature map."""
    return feature_size if pool_kernel == 0 else min(pool_kernel, feature_size)


def resnet_head_features(cfg: ResNetConfig) -> int:
    """Inputs of the classifier: channels times what is left of the map after pooling."""
    size = resnet_feature_size(cfg)
    kernel = effective_pool_kernel(cfg.pool_kernel, size)
    remaining = pool_output_size(size, kernel)
    return cfg.stages[-1].channels * remaining * remaining


def vgg_pools(cfg: VGGConfig) -> list[bool]:
    """Whether each stage ends with a 2x2 pool (skipped once the map is 1x1)."""
    pools, size = [], cfg.input_size
    for _ in cfg.stages:
        pools.append(size > 1)
        size = pool_output_size(size, 2) if size > 1 else 1
    return pools


class BranchBlockPlan(NamedTuple):
    in_channels: int
    out_channels: int
    kernels: tuple[int, ...]
    stride: int
    project: bool
    drop_rate: float


def branchnet_blocks(cfg: BranchNetConfig) -> list[BranchBlockPlan]:
    plans = []
    in_channels = cfg.stem_channels
    for i, block in enumerate(cfg.blocks):
        plans.append(
            BranchBlockPlan(
                in_channels=in_channels,
                out_channels=block.channels,
                kernels=block.kernels,
                stride=block.stride,
                project=needs_projection(in_channels, block.channels, block.stride),
                drop_rate=stochastic_depth_rate(cfg.stochastic_depth, i, len(cfg.blocks)),
            )
        )
        in_channels = block.channels
    return plans
