"""Training: recipes, the training loop, evaluation, checkpoints and plots.

Recipes are pure Python; the torch- and matplotlib-backed names load on first use, so that
reading or exporting a recipe (search setup, results, export) never imports torch.
"""

from __future__ import annotations

from typing import Any

from archbench.train._recipe import (
    RECIPES,
    Augmentation,
    TrainRecipe,
    get_recipe,
    list_recipes,
    load_recipe,
    resolve_recipe,
)

__all__ = [
    "Augmentation",
    "CHECKPOINT_FILE",
    "Evaluation",
    "NonFiniteLossError",
    "RECIPES",
    "TrainRecipe",
    "TrainResult",
    "confusion_matrix",
    "evaluate",
    "get_recipe",
    "list_recipes",
    "load_checkpoint",
    "load_recipe",
    "plot_confusion",
    "plot_history",
    "predict",
    "resolve_recipe",
    "train_model",
]

_LAZY = {
    "CHECKPOINT_FILE": "archbench.train._checkpoint",
    "load_checkpoint": "archbench.train._checkpoint",
    "Evaluation": "archbench.train._evaluate",
    "confusion_matrix": "archbench.train._evaluate",
    "evaluate": "archbench.train._evaluate",
    "predict": "archbench.train._evaluate",
    "NonFiniteLossError": "archbench.train._loop",
    "TrainResult": "archbench.train._loop",
    "train_model": "archbench.train._loop",
    "plot_confusion": "archbench.train._plots",
    "plot_history": "archbench.train._plots",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archbench.train' has no attribute {name!r}")
