"""VGG-style plain network built from a ``VGGConfig`` (Simonyan and Zisserman, 2015).

The convolutional part pools 2x2 after each stage (ceil mode, so 28x28 inputs work) and ends with
global average pooling, as the usual CIFAR adaptations do, so the classifier sees one vector of
the last stage's width.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import Conv2dNormActivation

from archbench.models._layers import activation_layer, pool_layer
from archbench.models._vgg import VGGConfig, vgg_pools


class VGG(nn.Module):
    def __init__(self, cfg: VGGConfig) -> None:
        super().__init__()
        act = activation_layer(cfg.activation)
        norm = nn.BatchNorm2d if cfg.batch_norm else None
        layers: list[nn.Module] = []
        in_channels = cfg.in_channels
        for stage, pooled in zip(cfg.stages, vgg_pools(cfg)):
            for _ in range(stage.convs):
                layers.append(
                    Conv2dNormActivation(
                        in_channels,
                        stage.channels,
                        stage.kernel_size,
                        norm_layer=norm,
                        activation_layer=act,
                    )
                )
                in_channels = stage.channels
            if pooled:
                layers.append(pool_layer(cfg.pool, 2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        head: list[nn.Module] = []
        for width in cfg.classifier:
            head += [nn.Linear(in_channels, width), act(inplace=True), nn.Dropout(cfg.dropout)]
            in_channels = width
        head.append(nn.Linear(in_channels, cfg.num_classes))
        self.classifier = nn.Sequential(*head)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(x), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
