"""The base of every family's config, the validators they share, and ``save_config``.

A config is plain data: it round-trips through dicts, YAML and JSON, and it is everything the
builder (``build_model``) and the analytic counter (``count_params``) need. Each family's config
class lives in its family's module (``_resnet.py``, ``_vgg.py``...). This module imports no torch,
so spaces and the budget check stay cheap.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from archbench import _dataclass_io

Activation = Literal["relu", "silu", "gelu", "hardswish", "leaky_relu"]
PoolType = Literal["avg", "max"]


def require(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{field_name}: {message}")


def require_range(field_name: str, value: float, low: float, high: float) -> None:
    require(low <= value <= high, field_name, f"must be in [{low}, {high}], got {value}")


def check_regularizers(se_ratio: float, stochastic_depth: float) -> None:
    require_range("se_ratio", se_ratio, 0.0, 1.0)
    require(
        0.0 <= stochastic_depth < 1.0,
        "stochastic_depth",
        f"must be in [0, 1), got {stochastic_depth}",
    )


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The base of every family's config: the input and output shape, which the data set decides.

    Each family's subclass adds a ``family`` field whose default is the name it is registered
    under (``models/_family.py``) and its own architecture fields.
    """

    num_classes: int = 10
    in_channels: int = 3
    input_size: int = 32

    def _check_shape(self) -> None:
        require(self.num_classes >= 2, "num_classes", f"must be >= 2, got {self.num_classes}")
        require(self.in_channels >= 1, "in_channels", f"must be >= 1, got {self.in_channels}")
        require_range("input_size", self.input_size, 8, 512)

    @property
    def family(self) -> str:
        raise NotImplementedError  # a dataclass field in every subclass

    def to_dict(self) -> dict[str, Any]:
        return _dataclass_io.to_dict(self)

    def with_data(self, *, num_classes: int, in_channels: int, input_size: int) -> ModelConfig:
        """The same architecture adapted to a data set's shape (stem and head change)."""
        return dataclasses.replace(
            self, num_classes=num_classes, in_channels=in_channels, input_size=input_size
        )


def save_config(config: ModelConfig, path: str | Path) -> Path:
    """Writes a config as YAML, or JSON when the suffix is ``.json``."""
    return _dataclass_io.write_mapping(config.to_dict(), path)
