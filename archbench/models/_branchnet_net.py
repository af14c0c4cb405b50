"""BranchNet: residual blocks of parallel conv branches mixed by input-dependent weights.

Each block runs one conv branch per kernel size (BN, activation and SE on every path) and mixes
them with softmax weights that a small MLP computes from the block input's per-channel mean and
standard deviation, an attention over receptive fields in the spirit of Selective Kernel
Networks (Li et al., 2019). Stochastic depth (Huang et al., 2016) drops the mixed path.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision.ops import Conv2dNormActivation, SqueezeExcitation, StochasticDepth

from archbench.models._branchnet import BranchBlockPlan, BranchNetConfig, branchnet_blocks
from archbench.models._layers import (
    StemBlocksHead,
    activation_layer,
    passes_gradient_at_zero,
    zero_last_norm,
)
from archbench.models._layout import squeeze_channels


class BranchGate(nn.Module):
    """Softmax weights over branches from the input's channel statistics."""

    def __init__(self, in_channels: int, hidden: int, branches: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(2 * in_channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, branches)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=(2, 3), correction=0)
        stats = torch.cat([mean, torch.sqrt(var + 1e-5)], dim=1)
        return torch.softmax(self.mlp(stats), dim=1)


class BranchBlock(nn.Module):
    def __init__(
        self,
        plan: BranchBlockPlan,
        *,
        gate_hidden: int,
        se_ratio: float,
        activation: Callable[..., nn.Module],
        zero_init_path: bool,
    ) -> None:
        super().__init__()
        squeeze = squeeze_channels(plan.out_channels, se_ratio)
        self.branches = nn.ModuleList(
            nn.Sequential(
                Conv2dNormActivation(
                    plan.in_channels,
                    plan.out_channels,
                    kernel,
                    plan.stride,
                    activation_layer=activation,
                ),
                SqueezeExcitation(plan.out_channels, squeeze) if squeeze else nn.Identity(),
            )
            for kernel in plan.kernels
        )
        if zero_init_path:
            for path in self.branches:  # the block starts as its shortcut
                zero_last_norm(path)
        self.gate = BranchGate(plan.in_channels, gate_hidden, len(plan.kernels))
        self.drop_path = StochasticDepth(plan.drop_rate, "row")
        self.shortcut = (
            Conv2dNormActivation(
                plan.in_channels, plan.out_channels, 1, plan.stride, activation_layer=None
            )
            if plan.project
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.gate(x)
        mixed = sum(
            weights[:, i, None, None, None] * branch(x) for i, branch in enumerate(self.branches)
        )
        return self.drop_path(mixed) + self.shortcut(x)


class BranchNet(StemBlocksHead):
    def __init__(self, cfg: BranchNetConfig) -> None:
        super().__init__()
        act = activation_layer(cfg.activation)
        self.stem = Conv2dNormActivation(
            cfg.in_channels, cfg.stem_channels, 3, activation_layer=act
        )
        self.blocks = nn.Sequential(
            *(
                BranchBlock(
                    plan,
                    gate_hidden=cfg.gate_hidden,
                    se_ratio=cfg.se_ratio,
                    activation=act,
                    zero_init_path=cfg.zero_init_last and passes_gradient_at_zero(cfg.activation),
                )
                for plan in branchnet_blocks(cfg)
            )
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cfg.blocks[-1].channels, cfg.num_classes)
