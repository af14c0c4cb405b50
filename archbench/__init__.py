"""archbench: architecture search and hardware benchmarks for small-image CNNs under a budget.

The pure-Python core (configs, spaces, exact counting) imports no torch; ``build_model`` and the
other torch-backed names load on first use.
"""

from __future__ import annotations

from typing import Any

from archbench.models import (
    ModelConfig,
    config_from_dict,
    count_params,
    fit_to_budget,
    get_preset,
    list_presets,
    load_config,
    save_config,
)
from archbench.spaces import SearchSpace, get_space, list_spaces

__version__ = "0.1.0"

__all__ = [
    "ModelConfig",
    "SearchSpace",
    "__version__",
    "build_model",
    "config_from_dict",
    "build_and_count_flops",
    "count_params",
    "fit_to_budget",
    "get_preset",
    "get_space",
    "list_presets",
    "list_spaces",
    "load_config",
    "save_config",
]


def __getattr__(name: str) -> Any:
    if name in ("build_model", "build_and_count_flops"):
        import archbench.models

        return getattr(archbench.models, name)
    raise AttributeError(f"module 'archbench' has no attribute {name!r}")
