"""``zero_init_last``: residual branches start at zero, so every block starts as its shortcut."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from archbench.models import (
    BranchBlock,
    BranchNetConfig,
    ResNetConfig,
    ResNetStage,
    build_model,
    count_params,
    get_preset,
    load_config,
    save_config,
)

RESNETS = {
    "basic": ResNetConfig(
        stem_channels=8, stages=(ResNetStage(2, 8), ResNetStage(1, 16, stride=2))
    ),
    "bottleneck": ResNetConfig(
        stem_channels=8,
        stages=(ResNetStage(2, 16), ResNetStage(1, 32, stride=2)),
        block="bottleneck",
        se_ratio=0.25,
    ),
}
BRANCHNET = BranchNetConfig(
    stem_channels=8,
    blocks=(BranchBlock(8, (1, 3)), BranchBlock(16, (3, 5), stride=2)),
    activation="silu",
)


def last_norms(model: nn.Module) -> list[nn.BatchNorm2d]:
    """The batch norm that ends each residual branch (ResNet body, BranchNet path)."""
    if hasattr(model.blocks[0], "body"):
        return [block.body[-1][1] for block in model.blocks]
    return [path[0][1] for block in model.blocks for path in block.branches]


@pytest.mark.parametrize("cfg", [*RESNETS.values(), BRANCHNET], ids=[*RESNETS, "branchnet"])
def test_last_norm_is_zero_only_with_the_knob(cfg: ResNetConfig | BranchNetConfig) -> None:
    torch.manual_seed(0)
    on = build_model(cfg)
    off = build_model(dataclasses.replace(cfg, zero_init_last=False))
    assert all(torch.count_nonzero(bn.weight) == 0 for bn in last_norms(on))
    assert all(torch.all(bn.weight == 1) for bn in last_norms(off))
    # The other norms are untouched, and nothing changes the parameter count.
    first = on.blocks[0].shortcut if isinstance(cfg, ResNetConfig) else on.stem
    assert all(
        torch.count_nonzero(m.weight) > 0 for m in first.modules() if isinstance(m, nn.BatchNorm2d)
    )
    n_params = sum(p.numel() for p in on.parameters())
    assert n_params == sum(p.numel() for p in off.parameters()) == count_params(cfg)


@pytest.mark.parametrize("cfg", [RESNETS["bottleneck"], BRANCHNET], ids=["resnet", "branchnet"])
def test_every_block_starts_as_its_shortcut(cfg: ResNetConfig | BranchNetConfig) -> None:
    model = build_model(cfg).eval()
    x = model.stem(torch.randn(2, cfg.in_channels, 16, 16))
    for block in model.blocks:
        expected = block.shortcut(x)
        if isinstance(cfg, ResNetConfig):
            expected = block.act(expected)
        torch.testing.assert_close(block(x), expected)
        x = expected


def test_relu_branch_paths_keep_their_norms() -> None:
    """A ReLU after a zero norm passes no gradient: those paths would never train."""
    model = build_model(dataclasses.replace(BRANCHNET, activation="relu"))
    assert all(torch.all(bn.weight == 1) for bn in last_norms(model))


def test_zero_initialised_resnet_learns_its_branches() -> None:
    torch.manual_seed(0)
    model = build_model(RESNETS["bottleneck"])
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    nn.functional.cross_entropy(model(x), y).backward()
    assert all(torch.count_nonzero(bn.weight.grad) > 0 for bn in last_norms(model))


@pytest.mark.parametrize("value", [True, False])
def test_knob_round_trips_through_yaml(tmp_path, value: bool) -> None:  # type: ignore[no-untyped-def]
    for cfg in (get_preset("resnet18_cifar"), BRANCHNET):
        cfg = dataclasses.replace(cfg, zero_init_last=value)
        path = save_config(cfg, tmp_path / f"{cfg.family}.yaml")
        assert f"zero_init_last: {str(value).lower()}" in path.read_text()
        assert load_config(path) == cfg
