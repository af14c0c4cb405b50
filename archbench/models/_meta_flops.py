"""FLOPs and MACs of a config, counted by torch's ``FlopCounterMode`` on a model built on meta.

FlopCounterMode counts 2 FLOPs per multiply-add; ``macs`` is half of ``flops``. Nothing is
allocated, so this is cheap even for large models, yet it builds one, as the names say: budget
checks use the analytic ``forward_flops`` of ``_count_flops`` instead, which tests hold equal to
this count.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from archbench.models._builder import build_model
from archbench.models._config import ModelConfig


@dataclass(frozen=True)
class FlopCount:
    flops: int
    macs: int
    train_step_flops: int


def build_and_count_forward_flops(cfg: ModelConfig, batch_size: int = 1) -> int:
    """Forward FLOPs per ``batch_size`` images (eval mode), counted on a model built on meta."""
    model, x = _meta_model(cfg, batch_size)
    return _forward(model, x)


def build_and_count_flops(cfg: ModelConfig, batch_size: int = 1) -> FlopCount:
    """Forward FLOPs/MACs per ``batch_size`` images (eval mode) and of a forward+backward step."""
    model, x = _meta_model(cfg, batch_size)
    forward = _forward(model, x)
    model.train()
    with FlopCounterMode(display=False) as counter:
        model(x.expand(max(batch_size, 2), -1, -1, -1)).sum().backward()
    step = counter.get_total_flops() * batch_size // max(batch_size, 2)
    return FlopCount(flops=forward, macs=forward // 2, train_step_flops=int(step))


def _meta_model(cfg: ModelConfig, batch_size: int) -> tuple[torch.nn.Module, torch.Tensor]:
    with torch.device("meta"):
        model = build_model(cfg)
        x = torch.empty(batch_size, cfg.in_channels, cfg.input_size, cfg.input_size)
    return model, x


def _forward(model: torch.nn.Module, x: torch.Tensor) -> int:
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return int(counter.get_total_flops())
