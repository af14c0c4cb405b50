"""``build_model``: one entry point from a config to a torch module."""

from __future__ import annotations

from torch import nn

from archbench.models._config import ModelConfig
from archbench.models._family import family_of


def build_model(cfg: ModelConfig) -> nn.Module:
    """Builds the network described by ``cfg`` (its family's builder) on the default device.

    Build under ``with torch.device("meta"):`` to get the structure without allocating weights.
    """
    return family_of(cfg).build(cfg)
