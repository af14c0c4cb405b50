"""CIFAR-style ResNet built from a ``ResNetConfig`` (He et al., 2016, "Deep Residual Learning").

The stem is a stride-1 convolution (no max pool), as in the CIFAR networks of the paper, so 28x28
and 32x32 inputs keep enough resolution for several stride-2 stages.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision.ops import Conv2dNormActivation, SqueezeExcitation, StochasticDepth

from archbench.models._layers import StemBlocksHead, activation_layer, pool_layer, zero_last_norm
from archbench.models._layout import effective_pool_kernel, squeeze_channels
from archbench.models._resnet import (
    ResidualBlockPlan,
    ResNetConfig,
    resnet_blocks,
    resnet_feature_size,
    resnet_head_features,
)


class ResidualBlock(nn.Module):
    """A basic (two k x k convs) or bottleneck (1x1, k x k, 1x1) block with optional SE."""

    def __init__(
        self,
        plan: ResidualBlockPlan,
        *,
        bottleneck: bool,
        skip_kernel: int,
        se_ratio: float,
        activation: Callable[..., nn.Module],
        zero_init_last: bool,
    ) -> None:
        super().__init__()
        k, out = plan.kernel_size, plan.out_channels
        if bottleneck:
            mid = plan.mid_channels
            self.body = nn.Sequential(
                Conv2dNormActivation(plan.in_channels, mid, 1, activation_layer=activation),
                Conv2dNormActivation(mid, mid, k, plan.stride, activation_layer=activation),
                Conv2dNormActivation(mid, out, 1, activation_layer=None),
            )
        else:
            self.body = nn.Sequential(
                Conv2dNormActivation(
                    plan.in_channels, out, k, plan.stride, activation_layer=activation
                ),
                Conv2dNormActivation(out, out, k, activation_layer=None),
            )
        if zero_init_last:  # the block starts as its shortcut
            zero_last_norm(self.body)
        squeeze = squeeze_channels(out, se_ratio)
        self.se = SqueezeExcitation(out, squeeze) if squeeze else nn.Identity()
        self.drop_path = StochasticDepth(plan.drop_rate, "row")
        self.shortcut = (
            Conv2dNormActivation(
                plan.in_channels, out, skip_kernel, plan.stride, activation_layer=None
            )
            if plan.project
            else nn.Identity()
        )
        self.act = activation(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop_path(self.se(self.body(x))) + self.shortcut(x))


class ResNet(StemBlocksHead):
    def __init__(self, cfg: ResNetConfig) -> None:
        super().__init__()
        act = activation_layer(cfg.activation)
        self.stem = Conv2dNormActivation(
            cfg.in_channels, cfg.stem_channels, cfg.stem_kernel, activation_layer=act
        )
        self.blocks = nn.Sequential(
            *(
                ResidualBlock(
                    plan,
                    bottleneck=cfg.block == "bottleneck",
                    skip_kernel=cfg.skip_kernel,
                    se_ratio=cfg.se_ratio,
                    activation=act,
                    zero_init_last=cfg.zero_init_last,
                )
                for plan in resnet_blocks(cfg)
            )
        )
        kernel = effective_pool_kernel(cfg.pool_kernel, resnet_feature_size(cfg))
        self.pool = pool_layer(cfg.pool, kernel)
        self.fc = nn.Linear(resnet_head_features(cfg), cfg.num_classes)
