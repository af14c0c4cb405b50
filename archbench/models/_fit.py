"""Width scaling and ``fit_to_budget``: shrink a config until it fits a parameter cap.

The parameter count grows monotonically with a width multiplier, so a bisection on the analytic
count finds the widest multiplier that fits (the ``width_mult`` idea of MobileNet and
torchvision's ``adjust_channels``) in a few dozen microsecond-cheap counts.
"""

from __future__ import annotations

import dataclasses

from archbench.models._config import BranchNetConfig, ModelConfig, ResNetConfig
from archbench.models._count import count_params


def _scaled(channels: int, multiplier: float, divisor: int) -> int:
    return max(divisor, int(round(channels * multiplier / divisor)) * divisor)


def scale_widths(cfg: ModelConfig, multiplier: float) -> ModelConfig:
    """Every channel width times ``multiplier``, rounded to a multiple of 4 (at least 4)."""
    divisor = 4
    if isinstance(cfg, ResNetConfig):
        return dataclasses.replace(
            cfg,
            stem_channels=_scaled(cfg.stem_channels, multiplier, divisor),
            stages=tuple(
                dataclasses.replace(s, channels=_scaled(s.channels, multiplier, divisor))
                for s in cfg.stages
            ),
        )
    if isinstance(cfg, BranchNetConfig):
        return dataclasses.replace(
            cfg,
            stem_channels=_scaled(cfg.stem_channels, multiplier, divisor),
            blocks=tuple(
                dataclasses.replace(b, channels=_scaled(b.channels, multiplier, divisor))
                for b in cfg.blocks
            ),
        )
    return dataclasses.replace(
        cfg,
        stages=tuple(
            dataclasses.replace(s, channels=_scaled(s.channels, multiplier, divisor))
            for s in cfg.stages
        ),
        classifier=tuple(_scaled(w, multiplier, divisor) for w in cfg.classifier),
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
