"""Width scaling and ``fit_to_budget``: shrink a config until it fits a parameter cap.

The parameter count grows monotonically with a width multiplier, so a bisection on the analytic
count finds the widest multiplier that fits (the ``width_mult`` idea of MobileNet and
torchvision's ``adjust_channels``) in a few dozen microsecond-cheap counts.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol, TypeVar

from archbench.models._config import ModelConfig
from archbench.models._count import count_params
from archbench.models._family import family_of

WIDTH_DIVISOR = 4


class _Widened(Protocol):
    """A stage or block of a family's config: a dataclass with a ``channels`` width."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @property
    def channels(self) -> int: ...


T = TypeVar("T", bound=_Widened)


def scaled_width(channels: int, multiplier: float) -> int:
    """``channels * multiplier`` rounded to a multiple of ``WIDTH_DIVISOR`` (at least that)."""
    return max(WIDTH_DIVISOR, int(round(channels * multiplier / WIDTH_DIVISOR)) * WIDTH_DIVISOR)


def scale_widths(cfg: ModelConfig, multiplier: float) -> ModelConfig:
    """Every channel width times ``multiplier``, rounded to a multiple of 4 (at least 4)."""
    return family_of(cfg).scale_widths(cfg, multiplier)


def scaled_items(stages: tuple[T, ...], multiplier: float) -> tuple[T, ...]:
    """Stages or blocks with their ``channels`` scaled."""
    return tuple(
        dataclasses.replace(s, channels=scaled_width(s.channels, multiplier)) for s in stages
    )


def fit_to_budget(cfg: ModelConfig, max_params: int) -> ModelConfig:
    """The widest width-scaled version of ``cfg`` with at most ``max_params`` parameters.

    Returns ``cfg`` unchanged when it already fits.

    Raises:
        ValueError: when even the narrowest widths (4 channels everywhere) do not fit.
    """
    if count_params(cfg) <= max_params:
        return cfg
    narrowest = scale_widths(cfg, 0.0)
    if count_params(narrowest) > max_params:
        raise ValueError(
            f"max_params: even with the narrowest widths this config has "
            f"{count_params(narrowest):,} parameters, over the budget of {max_params:,}"
        )
    low, high = 0.0, 1.0  # low always fits, high never does
    for _ in range(30):
        middle = (low + high) / 2
        if count_params(scale_widths(cfg, middle)) <= max_params:
            low = middle
        else:
            high = middle
    return scale_widths(cfg, low)
