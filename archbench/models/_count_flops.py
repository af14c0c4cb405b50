"""Exact analytic forward FLOPs of a config, in pure Python, as ``FlopCounterMode`` counts them.

torch's counter charges 2 FLOPs per multiply-add of convolutions and matrix products only: a conv
costs ``2 * out * (in / groups) * k * k * H_out * W_out``, a Linear ``2 * in * out``; biases,
normalisation, activations, pooling and elementwise products are free. The formulas below walk
the same ``_layout`` plans as the builders, so a budget check or a prescreen pool with a FLOPs
cap counts thousands of configs per second without torch. ``tests/models/test_count_flops.py``
checks them against the counter on built models for every preset and hundreds of samples.
"""

from __future__ import annotations

from archbench.models._config import BranchNetConfig, ModelConfig, ResNetConfig, VGGConfig
from archbench.models._family import family_of
from archbench.models._layout import (
    branchnet_blocks,
    conv_output_size,
    pool_output_size,
    resnet_blocks,
    resnet_head_features,
    squeeze_channels,
    vgg_pools,
)


def _conv(in_channels: int, out_channels: int, kernel_size: int, out_size: int) -> int:
    return 2 * out_channels * in_channels * kernel_size * kernel_size * out_size * out_size


def _linear(in_features: int, out_features: int) -> int:
    return 2 * in_features * out_features


def _squeeze_excitation(channels: int, se_ratio: float) -> int:
    """Two 1x1 convs on the pooled 1x1 map."""
    return 2 * _conv(channels, squeeze_channels(channels, se_ratio), 1, 1)


def resnet_flops(cfg: ResNetConfig) -> int:
    size = conv_output_size(cfg.input_size, cfg.stem_kernel, 1)
    total = _conv(cfg.in_channels, cfg.stem_channels, cfg.stem_kernel, size)
    for block in resnet_blocks(cfg):
        k, cin, out = block.kernel_size, block.in_channels, block.out_channels
        out_size = conv_output_size(size, k, block.stride)
        if cfg.block == "bottleneck":
            mid = block.mid_channels
            total += _conv(cin, mid, 1, size) + _conv(mid, mid, k, out_size)
            total += _conv(mid, out, 1, out_size)
        else:
            total += _conv(cin, out, k, out_size) + _conv(out, out, k, out_size)
        total += _squeeze_excitation(out, cfg.se_ratio)
        if block.project:
            skip_size = conv_output_size(size, cfg.skip_kernel, block.stride)
            total += _conv(cin, out, cfg.skip_kernel, skip_size)
        size = out_size
    return total + _linear(resnet_head_features(cfg), cfg.num_classes)


def vgg_flops(cfg: VGGConfig) -> int:
    total, cin, size = 0, cfg.in_channels, cfg.input_size
    for stage, pooled in zip(cfg.stages, vgg_pools(cfg)):
        for _ in range(stage.convs):
            size = conv_output_size(size, stage.kernel_size, 1)
            total += _conv(cin, stage.channels, stage.kernel_size, size)
            cin = stage.channels
        if pooled:
            size = pool_output_size(size, 2)
    for width in cfg.classifier:
        total += _linear(cin, width)
        cin = width
    return total + _linear(cin, cfg.num_classes)


def branchnet_flops(cfg: BranchNetConfig) -> int:
    size = conv_output_size(cfg.input_size, 3, 1)
    total = _conv(cfg.in_channels, cfg.stem_channels, 3, size)
    for block in branchnet_blocks(cfg):
        cin, out, branches = block.in_channels, block.out_channels, len(block.kernels)
        for kernel in block.kernels:
            out_size = conv_output_size(size, kernel, block.stride)
            total += _conv(cin, out, kernel, out_size)
            total += _squeeze_excitation(out, cfg.se_ratio)
        total += _linear(2 * cin, cfg.gate_hidden) + _linear(cfg.gate_hidden, branches)
        if block.project:
            total += _conv(cin, out, 1, out_size)
        size = out_size
    return total + _linear(cfg.blocks[-1].channels, cfg.num_classes)


def forward_flops(cfg: ModelConfig, batch_size: int = 1) -> int:
    """Forward FLOPs per ``batch_size`` images (eval mode): what a budget check or a score needs.

    Analytic for families that register a ``flops`` counter (every built-in one); others are
    counted on the meta device, which builds the model.
    """
    family = family_of(cfg)
    if family.flops is not None:
        return batch_size * family.flops(cfg)
    from archbench.models._flops import meta_forward_flops

    return meta_forward_flops(cfg, batch_size)
