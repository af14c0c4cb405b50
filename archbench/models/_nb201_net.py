"""The NAS-Bench-201 network in torch, layer for layer as ``_nb201.nb201_layers`` plans it.

The modules follow the authors' ``cell_operations.py``, ``cells.py`` and ``tiny_network.py``
(AutoDL-Projects): convs without bias, affine batch norms, ``none`` as a product with 0 (so every
edge runs and gradients reach every node), and average pooling without the padded zeros. One
liberty: the reduction shortcut pools in ``ceil_mode``, which changes nothing on even maps and
lets odd ones (9x9) line up with the stride-2 conv.
"""

from __future__ import annotations

import torch
from torch import nn

from archbench.models._nb201 import CONV_KERNELS, EDGES, NB201Config


class ReLUConvBN(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class Zero(nn.Module):
    """The ``none`` op: zeros of the input's shape, still a function of it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def edge_op(op: str, channels: int) -> nn.Module:
    if op in CONV_KERNELS:
        return ReLUConvBN(channels, channels, CONV_KERNELS[op], 1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if op == "skip_connect":
        return nn.Identity()
    return Zero()


class Cell(nn.Module):
    """Node j = sum of op(i -> j)(node i) over i < j; the last node is the output."""

    def __init__(self, ops: tuple[str, ...], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(edge_op(op, channels) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in (1, 2, 3):
            nodes.append(
                sum(  # type: ignore[arg-type]
                    op(nodes[source])
                    for op, (source, node) in zip(self.edges, EDGES)
                    if node == target
                )
            )
        return nodes[-1]


class ResNetBasicBlock(nn.Module):
    """The stride-2 reduction between stages: two ReLU-conv-BN, shortcut 2x2 avg pool + 1x1 conv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(in_channels, out_channels, 3, 2)
        self.conv_b = ReLUConvBN(out_channels, out_channels, 3, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(2, stride=2, ceil_mode=True),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class NB201Net(nn.Module):
    def __init__(self, cfg: NB201Config) -> None:
        super().__init__()
        channels = cfg.channels
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        cells: list[nn.Module] = []
        for stage in range(3):
            if stage:
                cells.append(ResNetBasicBlock(channels, 2 * channels))
                channels *= 2
            cells.extend(Cell(cfg.edges, channels) for _ in range(cfg.cells_per_stage))
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, cfg.num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.lastact(self.cells(self.stem(x)))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(x), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
