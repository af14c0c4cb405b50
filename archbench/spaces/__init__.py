"""Declarative search spaces shared by every backend (no torch, optuna or ray imports)."""

from archbench.spaces._base import DataShape, SearchSpace
from archbench.spaces._params import (
    ActiveIf,
    ChoiceParam,
    FixedParam,
    FloatParam,
    IntParam,
    Param,
    param_from_dict,
)
from archbench.spaces._registry import get_space, list_spaces, load_space, register_space

__all__ = [
    "ActiveIf",
    "ChoiceParam",
    "DataShape",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "Param",
    "SearchSpace",
    "get_space",
    "list_spaces",
    "load_space",
    "param_from_dict",
    "register_space",
]
