"""``build_model``: one entry point from a config to a torch module."""

from __future__ import annotations

from torch import nn

from archbench.models._branchnet import BranchNet
from archbench.models._config import BranchNetConfig, ModelConfig, ResNetConfig
from archbench.models._resnet import ResNet
from archbench.models._vgg import VGG


def build_model(cfg: ModelConfig) -> nn.Module:
    """Builds the network described by ``cfg`` on the current default device.

    Build under ``with torch.device("meta"):`` to get the structure without allocating weights.
    """
    if isinstance(cfg, ResNetConfig):
        return ResNet(cfg)
    if isinstance(cfg, BranchNetConfig):
        return BranchNet(cfg)
    return VGG(cfg)
