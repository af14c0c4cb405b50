"""Training: recipes, the training loop, evaluation, checkpoints and plots."""

from __future__ import annotations

from archbench.train._checkpoint import CHECKPOINT_FILE, load_checkpoint
from archbench.train._evaluate import Evaluation, confusion_matrix, evaluate, predict
from archbench.train._loop import NonFiniteLossError, TrainResult, profile_options, train_model
from archbench.train._plots import plot_confusion, plot_history
from archbench.train._recipe import (
    RECIPES,
    TrainRecipe,
    get_recipe,
    list_recipes,
    load_recipe,
    resolve_recipe,
)

__all__ = [
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
    "profile_options",
    "resolve_recipe",
    "train_model",
]
