"""The analytic count must equal the built model's parameter count: the repo's key test."""

from __future__ import annotations

import random

import pytest
import torch

from archbench.models import build_model, count_params, get_preset, list_presets
from archbench.spaces import DataShape, get_space, list_spaces

SAMPLES_PER_SPACE = 150
SHAPES = [DataShape(10, 3, 32), DataShape(100, 3, 32), DataShape(10, 1, 28)]


def built_count(cfg) -> int:  # type: ignore[no-untyped-def]
    with torch.device("meta"):
        model = build_model(cfg)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list_presets())
def test_preset_count_matches_built_model(name: str) -> None:
    cfg = get_preset(name)
    assert count_params(cfg) == built_count(cfg)


def test_resnet18_cifar_has_the_well_known_count() -> None:
    assert count_params(get_preset("resnet18_cifar")) == 11_173_962


def test_resnet_5m_is_about_4_7m() -> None:
    assert 4_600_000 <= count_params(get_preset("resnet_5m")) <= 4_800_000


@pytest.mark.parametrize("space_name", list_spaces())
def test_sampled_configs_count_exactly(space_name: str) -> None:
    space = get_space(space_name)
    rng = random.Random(1234)
    mismatches = []
    for i in range(SAMPLES_PER_SPACE):
        cfg = space.to_config(space.sample(rng), SHAPES[i % len(SHAPES)])
        if count_params(cfg) != built_count(cfg):
            mismatches.append(cfg)
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[0]}"


def test_count_changes_with_data_shape() -> None:
    cfg = get_preset("resnet20_cifar")
    assert count_params(cfg.with_data(num_classes=100, in_channels=3, input_size=32)) == (
        count_params(cfg) + 64 * 90 + 90
    )
