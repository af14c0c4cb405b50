"""Exact analytic parameter count of a config, in pure Python: the shared layer counts.

Each family's counter (``count_resnet`` in ``_resnet.py``...) mirrors its builder layer by layer
with these: a conv has ``out * in * k * k`` weights plus a bias only when no norm follows
(torchvision's ``Conv2dNormActivation`` rule), BatchNorm ``2 * C`` (running stats are buffers),
Linear ``in * out + out``, SqueezeExcitation ``2 * C * S + S + C``; pooling and stochastic depth
have none. ``tests/models`` checks the count against built models for every preset and thousands
of samples.
"""

from __future__ import annotations

from archbench.models._config import ModelConfig
from archbench.models._family import family_of
from archbench.models._layout import squeeze_channels


def conv_bn_params(in_channels: int, out_channels: int, kernel_size: int) -> int:
    return out_channels * in_channels * kernel_size * kernel_size + 2 * out_channels


def conv_bias_params(in_channels: int, out_channels: int, kernel_size: int) -> int:
    return out_channels * in_channels * kernel_size * kernel_size + out_channels


def linear_params(in_features: int, out_features: int) -> int:
    return in_features * out_features + out_features


def squeeze_excitation_params(channels: int, se_ratio: float) -> int:
    squeeze = squeeze_channels(channels, se_ratio)
    return 2 * channels * squeeze + squeeze + channels if squeeze else 0


def count_params(cfg: ModelConfig) -> int:
    """The exact number of trainable parameters of ``build_model(cfg)``, without building it."""
    return int(family_of(cfg).count(cfg))
