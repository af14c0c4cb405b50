"""The channel and shape arithmetic that every family's plans share.

Each family module makes the layer plans that both its torch builder and its analytic counts
walk (``resnet_blocks`` in ``_resnet.py``, ...: one source of truth for widths, strides,
projections and head sizes, timm's pure ``make_blocks`` idea); the sizes they compute come from
here. Pure Python: no torch import.
"""

from __future__ import annotations

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


def effective_pool_kernel(pool_kernel: int, feature_size: int) -> int:
    """The head's pooling kernel: 0 (global) or a kernel clipped to the feature map."""
    return feature_size if pool_kernel == 0 else min(pool_kernel, feature_size)
