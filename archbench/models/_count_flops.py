"""Exact analytic forward FLOPs of a config, in pure Python, as ``FlopCounterMode`` counts them.

torch's counter charges 2 FLOPs per multiply-add of convolutions and matrix products only: a conv
costs ``2 * out * (in / groups) * k * k * H_out * W_out``, a Linear ``2 * in * out``; biases,
normalisation, activations, pooling and elementwise products are free. Each family's counter
(``resnet_flops`` in ``_resnet.py``...) walks the same ``_layout`` plans as its builder with these
layer costs, so a budget check or a prescreen pool with a FLOPs cap counts thousands of configs
per second without torch. ``tests/models/test_count_flops.py`` checks them against the counter on
built models for every preset and hundreds of samples.
"""

from __future__ import annotations

from archbench.models._config import ModelConfig
from archbench.models._family import family_of
from archbench.models._layout import squeeze_channels


def conv_flops(in_channels: int, out_channels: int, kernel_size: int, out_size: int) -> int:
    return 2 * out_channels * in_channels * kernel_size * kernel_size * out_size * out_size


def linear_flops(in_features: int, out_features: int) -> int:
    return 2 * in_features * out_features


def squeeze_excitation_flops(channels: int, se_ratio: float) -> int:
    """Two 1x1 convs on the pooled 1x1 map."""
    return 2 * conv_flops(channels, squeeze_channels(channels, se_ratio), 1, 1)


def forward_flops(cfg: ModelConfig, batch_size: int = 1) -> int:
    """Forward FLOPs per ``batch_size`` images (eval mode): what a budget check or a score needs.

    Analytic for families that register a ``flops`` counter (every built-in one); others are
    counted on a model built on the meta device.
    """
    family = family_of(cfg)
    if family.flops is not None:
        return batch_size * family.flops(cfg)
    from archbench.models._meta_flops import build_and_count_forward_flops

    return build_and_count_forward_flops(cfg, batch_size)
