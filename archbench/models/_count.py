"""Exact analytic parameter count of a config, in pure Python.

The formulas mirror the builder layer by layer, reading the same plans from ``_layout``:
a conv has ``out * in * k * k`` weights plus a bias only when no norm follows (torchvision's
``Conv2dNormActivation`` rule), BatchNorm ``2 * C`` (running stats are buffers), Linear
``in * out + out``, SqueezeExcitation ``2 * C * S + S + C``; pooling and stochastic depth have none.
``tests/models`` checks the count against built models for every preset and thousands of samples.
"""

from __future__ import annotations

from archbench.models._config import BranchNetConfig, ModelConfig, ResNetConfig, VGGConfig
from archbench.models._family import family_of
from archbench.models._layout import (
    BOTTLENECK_EXPANSION,
    needs_projection,
    resnet_head_features,
    resnet_stages,
    squeeze_channels,
)


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int) -> int:
    return out_channels * in_channels * kernel_size * kernel_size + 2 * out_channels


def _conv_bias(in_channels: int, out_channels: int, kernel_size: int) -> int:
    return out_channels * in_channels * kernel_size * kernel_size + out_channels


def _linear(in_features: int, out_features: int) -> int:
    return in_features * out_features + out_features


def _squeeze_excitation(channels: int, se_ratio: float) -> int:
    squeeze = squeeze_channels(channels, se_ratio)
    return 2 * channels * squeeze + squeeze + channels if squeeze else 0


def _residual_block(
    cfg: ResNetConfig, in_channels: int, out: int, kernel: int, project: bool
) -> int:
    if cfg.block == "bottleneck":
        mid = out // BOTTLENECK_EXPANSION
        body = _conv_bn(in_channels, mid, 1) + _conv_bn(mid, mid, kernel) + _conv_bn(mid, out, 1)
    else:
        body = _conv_bn(in_channels, out, kernel) + _conv_bn(out, out, kernel)
    skip = _conv_bn(in_channels, out, cfg.skip_kernel) if project else 0
    return body + _squeeze_excitation(out, cfg.se_ratio) + skip


def count_resnet(cfg: ResNetConfig) -> int:
    total = _conv_bn(cfg.in_channels, cfg.stem_channels, cfg.stem_kernel)
    for stage in resnet_stages(cfg):
        out, k = stage.out_channels, stage.kernel_size
        total += _residual_block(cfg, stage.in_channels, out, k, stage.first_projects)
        total += (stage.depth - 1) * _residual_block(cfg, out, out, k, stage.repeats_project)
    return total + _linear(resnet_head_features(cfg), cfg.num_classes)


def count_vgg(cfg: VGGConfig) -> int:
    conv = _conv_bn if cfg.batch_norm else _conv_bias
    total, in_channels = 0, cfg.in_channels
    for stage in cfg.stages:
        for _ in range(stage.convs):
            total += conv(in_channels, stage.channels, stage.kernel_size)
            in_channels = stage.channels
    for width in cfg.classifier:
        total += _linear(in_channels, width)
        in_channels = width
    return total + _linear(in_channels, cfg.num_classes)


def count_branchnet(cfg: BranchNetConfig) -> int:
    total = _conv_bn(cfg.in_channels, cfg.stem_channels, 3)
    cin = cfg.stem_channels
    for block in cfg.blocks:
        out, branches = block.channels, len(block.kernels)
        # Every branch: a conv+BN of its own kernel and an SE of the same width.
        total += out * cin * sum(k * k for k in block.kernels) + 2 * out * branches
        total += branches * _squeeze_excitation(out, cfg.se_ratio)
        total += _linear(2 * cin, cfg.gate_hidden) + _linear(cfg.gate_hidden, branches)
        if needs_projection(cin, out, block.stride):
            total += _conv_bn(cin, out, 1)
        cin = out
    return total + _linear(cfg.blocks[-1].channels, cfg.num_classes)


def count_params(cfg: ModelConfig) -> int:
    """The exact number of trainable parameters of ``build_model(cfg)``, without building it."""
    return int(family_of(cfg).count(cfg))
