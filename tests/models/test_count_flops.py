"""The analytic forward FLOPs must equal torch's FlopCounterMode on the built model."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from archbench.models import forward_flops, get_preset, list_presets
from archbench.models._meta_flops import build_and_count_forward_flops
from archbench.spaces import DataShape, get_space, list_spaces

SAMPLES_PER_SPACE = 60
SHAPES = [DataShape(10, 3, 32), DataShape(100, 3, 32), DataShape(10, 1, 28), DataShape(10, 3, 9)]


@pytest.mark.parametrize("name", list_presets())
def test_preset_flops_match_the_counter(name: str) -> None:
    cfg = get_preset(name)
    assert forward_flops(cfg) == build_and_count_forward_flops(cfg)
    assert forward_flops(cfg, batch_size=3) == build_and_count_forward_flops(cfg, batch_size=3)


@pytest.mark.parametrize("space_name", list_spaces())
def test_sampled_configs_match_the_counter(space_name: str) -> None:
    """Every shape of the spaces' knobs (strides, kernels, SE, projections, pooling, small maps)."""
    space = get_space(space_name)
    rng = random.Random(4321)
    mismatches = []
    for i in range(SAMPLES_PER_SPACE):
        cfg = space.to_config(space.sample(rng), SHAPES[i % len(SHAPES)])
        if forward_flops(cfg) != build_and_count_forward_flops(cfg):
            mismatches.append(cfg)
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[0]}"


def test_flops_are_counted_without_importing_torch() -> None:
    """Budget checks with a FLOPs cap stay torch-free, like the parameter count."""
    code = (
        "import sys\n"
        "from archbench.models import forward_flops, get_preset\n"
        "assert forward_flops(get_preset('resnet20_cifar')) > 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
