"""Reference and seed architectures, as data, in one registry.

Each family's module registers its own presets where it defines them (``_resnet.py`` the ResNets),
so they are listed family by family, in the order ``_families.py`` imports the families. Each
preset names where it comes from; ``tests/models`` checks that ``resnet18_cifar`` counts the
well-known 11,173,962 parameters of the CIFAR ResNet-18.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archbench.models._config import ModelConfig
from archbench.models._family import config_from_dict


@dataclass(frozen=True)
class Preset:
    name: str
    source: str
    config: dict[str, Any]

    def to_config(self) -> ModelConfig:
        return config_from_dict(self.config)


PRESETS: dict[str, Preset] = {}


def register_presets(*presets: Preset) -> None:
    """Adds ``presets`` under their names.

    Raises:
        ValueError: when a name is taken.
    """
    for preset in presets:
        if preset.name in PRESETS:
            raise ValueError(f"a preset named {preset.name!r} is already registered")
        PRESETS[preset.name] = preset


def list_presets() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> ModelConfig:
    """The config of a preset.

    Raises:
        ValueError: for an unknown name, listing the presets.
    """
    try:
        return PRESETS[name].to_config()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}") from None
