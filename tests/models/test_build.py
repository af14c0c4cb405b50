"""Every preset and samples of every space run forward and backward on CPU."""

from __future__ import annotations

import random

import pytest
import torch

from archbench.models import (
    ResNetConfig,
    ResNetStage,
    build_and_count_flops,
    build_model,
    forward_flops,
    get_preset,
    list_presets,
)
from archbench.spaces import DataShape, get_space, list_spaces


def forward_backward(cfg, batch: int = 2) -> torch.Tensor:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = build_model(cfg)
    x = torch.randn(batch, cfg.in_channels, cfg.input_size, cfg.input_size)
    out = model(x)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    return out


@pytest.mark.parametrize("name", list_presets())
@pytest.mark.parametrize("shape", [DataShape(10, 3, 32), DataShape(10, 1, 28)])
def test_preset_forward_backward(name: str, shape: DataShape) -> None:
    cfg = get_preset(name).with_data(
        num_classes=shape.num_classes, in_channels=shape.in_channels, input_size=shape.input_size
    )
    out = forward_backward(cfg)
    assert out.shape == (2, shape.num_classes)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("space_name", list_spaces())
def test_space_samples_forward_backward(space_name: str) -> None:
    space = get_space(space_name)
    rng = random.Random(7)
    done = 0
    while done < 4:
        params = space.sample(rng)
        cfg = space.to_config(params, DataShape(10, 1, 28))
        from archbench.models import count_params

        if count_params(cfg) > 3_000_000:  # keep the CPU test quick
            continue
        out = forward_backward(cfg)
        assert out.shape == (2, 10)
        done += 1


def test_flops_of_a_tiny_resnet_match_the_hand_count() -> None:
    cfg = ResNetConfig(
        stem_channels=4,
        stem_kernel=3,
        stages=(ResNetStage(1, 4, 3, 1),),
        num_classes=2,
        in_channels=1,
        input_size=8,
    )
    # stem conv 1->4 3x3 on 8x8, two 4->4 3x3 convs, linear 4->2; 2 FLOPs per multiply-add.
    macs = 8 * 8 * 4 * 1 * 9 + 2 * (8 * 8 * 4 * 4 * 9) + 4 * 2
    counted = build_and_count_flops(cfg)
    assert counted.macs == macs
    assert counted.flops == 2 * macs
    assert counted.train_step_flops > counted.flops
    assert forward_flops(cfg) == counted.flops


def test_stochastic_depth_is_linear_over_blocks() -> None:
    cfg = get_preset("resnet20_cifar")
    import dataclasses

    model = build_model(dataclasses.replace(cfg, stochastic_depth=0.2))
    rates = [block.drop_path.p for block in model.blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.2)
    assert rates == sorted(rates)
