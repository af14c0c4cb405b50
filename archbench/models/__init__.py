"""Model configs, the generator that builds them, presets, and exact counting.

Each family is one module (``_resnet.py``: config, counts, width scaler, decoder, presets) that
registers itself, plus the torch modules of its network (``_resnet_net.py``). Configs, presets,
``count_params`` and ``forward_flops`` are pure Python; the torch-backed names (``build_model``,
``build_and_count_flops``) load on first use so that spaces and budget checks never import torch.
"""

from typing import Any

from archbench.models import _families  # noqa: F401  (registers the built-in families)
from archbench.models._branchnet import BranchBlock, BranchNetConfig
from archbench.models._config import ModelConfig, save_config
from archbench.models._count import count_params
from archbench.models._count_flops import forward_flops
from archbench.models._family import (
    Family,
    config_from_dict,
    get_family,
    list_families,
    load_config,
    register_family,
)
from archbench.models._fit import fit_to_budget, scale_widths
from archbench.models._presets import PRESETS, Preset, get_preset, list_presets
from archbench.models._resnet import ResNetConfig, ResNetStage
from archbench.models._resolve import resolve_config
from archbench.models._vgg import VGGConfig, VGGStage

__all__ = [
    "BranchBlock",
    "BranchNetConfig",
    "Family",
    "FlopCount",
    "ModelConfig",
    "PRESETS",
    "Preset",
    "ResNetConfig",
    "ResNetStage",
    "VGGConfig",
    "VGGStage",
    "build_and_count_flops",
    "build_model",
    "config_from_dict",
    "count_params",
    "fit_to_budget",
    "forward_flops",
    "get_family",
    "get_preset",
    "list_families",
    "list_presets",
    "load_config",
    "register_family",
    "resolve_config",
    "save_config",
    "scale_widths",
]

_LAZY = {
    "build_model": "archbench.models._builder",
    "build_and_count_flops": "archbench.models._meta_flops",
    "FlopCount": "archbench.models._meta_flops",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archbench.models' has no attribute {name!r}")
