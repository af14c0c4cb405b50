"""Layer factories that turn the plain strings of a config into torch modules."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

_ACTIVATIONS: dict[str, Callable[..., nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "gelu": lambda inplace=False: nn.GELU(),
    "hardswish": nn.Hardswish,
    "leaky_relu": partial(nn.LeakyReLU, 0.1),
}


# Activations whose slope at 0 is 0 (torch's ReLU): a path zeroed before one never trains.
_FLAT_AT_ZERO = frozenset({"relu"})


def passes_gradient_at_zero(name: str) -> bool:
    """Whether activation ``name`` has a nonzero slope at 0, so a zero-initialised path can learn.

    A path that ends BN, activation, SE with a zero BN weight computes exactly 0 before the
    activation; it learns its way out only through the activation's slope there.
    """
    activation_layer(name)  # refuses unknown names
    return name not in _FLAT_AT_ZERO


def activation_layer(name: str) -> Callable[..., nn.Module]:
    """The activation class (or factory) for ``name``; accepts ``inplace=`` like torch's."""
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"activation: {name!r} is unknown; choose one of {', '.join(_ACTIVATIONS)}"
        ) from None


def pool_layer(kind: str, kernel_size: int) -> nn.Module:
    """A 'kernel = stride' pooling layer that keeps the last partial window (ceil mode)."""
    if kind == "max":
        return nn.MaxPool2d(kernel_size, kernel_size, ceil_mode=True)
    return nn.AvgPool2d(kernel_size, kernel_size, ceil_mode=True)


def zero_last_norm(module: nn.Module) -> None:
    """Sets the weight of the last batch norm in ``module`` to 0 (``zero_init_last``)."""
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    nn.init.zeros_(norms[-1].weight)


class StemBlocksHead(nn.Module):
    """The timm-style split shared by ResNet and BranchNet: stem and blocks, then pool and fc.

    Subclasses set ``stem``, ``blocks``, ``pool`` and ``fc``.
    """

    stem: nn.Module
    blocks: nn.Module
    pool: nn.Module
    fc: nn.Module

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(x), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
