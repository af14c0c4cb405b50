"""FLOPs and MACs of a config, counted by torch's ``FlopCounterMode`` on the meta device.

FlopCounterMode counts 2 FLOPs per multiply-add; ``macs`` is half of ``flops``. Nothing is
allocated, so this is cheap even for large models.
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


def count_flops(cfg: ModelConfig, batch_size: int = 1) -> FlopCount:
    """Forward FLOPs/MACs per ``batch_size`` images (eval mode) and of a forward+backward step."""
    with torch.device("meta"):
        model = build_model(cfg)
        x = torch.empty(batch_size, cfg.in_channels, cfg.input_size, cfg.input_size)
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    forward = counter.get_total_flops()
    model.train()
    with FlopCounterMode(display=False) as counter:
        model(x.expand(max(batch_size, 2), -1, -1, -1)).sum().backward()
    step = counter.get_total_flops() * batch_size // max(batch_size, 2)
    return FlopCount(flops=int(forward), macs=int(forward) // 2, train_step_flops=int(step))
