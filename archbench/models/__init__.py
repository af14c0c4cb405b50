"""Model configs, the generator that builds them, presets, and exact counting.

Configs, presets, ``count_params`` and ``forward_flops`` are pure Python; the torch-backed names
(``build_model``, ``count_flops``) load on first use so that spaces and budget checks never import
torch.
"""

from typing import Any

from archbench.models import _families  # noqa: F401  (registers the built-in families)
from archbench.models._config import (
    BranchBlock,
    BranchNetConfig,
    ModelConfig,
    ResNetConfig,
    ResNetStage,
    VGGConfig,
    VGGStage,
    save_config,
)
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
from archbench.models._resolve import resolve_config

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
    "build_model",
    "config_from_dict",
    "count_flops",
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
    "count_flops": "archbench.models._flops",
    "FlopCount": "archbench.models._flops",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archbench.models' has no attribute {name!r}")
