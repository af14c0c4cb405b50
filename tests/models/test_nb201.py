"""The nb201 family: arch strings both ways, one-line errors, and counts equal to NASLib's figures.

``data/nb201_zerocost_cifar10.csv`` holds NASLib's published params and FLOPs of 724 archs (see
``data/NOTICE``). Its ``flops`` column is tensorwatch's count, in millions: the multiply-adds of
convs and the classifier, plus 2 per element of every affine BN, 1 per element of every ReLU,
k*k per output of a k x k pooling, and (H+1)(W+1) per channel of the global pooling.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from archbench.models import (
    build_model,
    config_from_dict,
    count_params,
    forward_flops,
    get_preset,
    load_config,
    resolve_config,
    save_config,
)
from archbench.models._meta_flops import build_and_count_forward_flops
from archbench.models._nb201 import Layer, NB201Config, format_arch, nb201_layers, parse_arch
from archbench.spaces import DataShape, get_space
from tests.conftest import invoke

PUBLISHED = Path(__file__).parent / "data" / "nb201_zerocost_cifar10.csv"
BEST = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)
EVERY_OP = "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"


def published_rows() -> list[dict[str, str]]:
    with PUBLISHED.open() as file:
        return list(csv.DictReader(file))


def tensorwatch_flops(layer: Layer) -> int:
    """One layer's cost as tensorwatch's ``compute_flops`` counts it (NASLib's ``flops``)."""
    elements = layer.out_channels * layer.out_size**2
    if layer.kind == "conv":
        return elements * layer.in_channels * layer.kernel_size**2
    if layer.kind == "linear":
        return layer.in_channels * layer.out_channels
    if layer.kind == "batch_norm":
        return 2 * elements
    if layer.kind == "avg_pool":
        return elements * layer.kernel_size**2
    if layer.kind == "global_pool":
        return layer.in_channels * (layer.in_size + 1) ** 2
    return elements  # relu


def test_params_and_flops_equal_naslib_for_724_archs() -> None:
    rows = published_rows()
    assert len(rows) == 724
    for row in rows:
        cfg = resolve_config(row["arch"])
        assert round(count_params(cfg) / 1e6, 6) == float(row["params"]), row["arch"]
        layers = list(nb201_layers(cfg))
        published = float(row["flops"]) * 1e6
        assert sum(map(tensorwatch_flops, layers)) == pytest.approx(published, abs=1), row["arch"]
        macs = sum(tensorwatch_flops(layer) for layer in layers if layer.kind in ("conv", "linear"))
        assert forward_flops(cfg) == 2 * macs


def test_arch_string_round_trips_through_configs_and_files(tmp_path: Path) -> None:
    assert format_arch(parse_arch(EVERY_OP)) == EVERY_OP
    assert parse_arch(EVERY_OP)[3] == "nor_conv_3x3"  # edge 0 -> 3
    cfg = resolve_config(EVERY_OP)
    assert cfg == NB201Config(arch=EVERY_OP)
    assert cfg.to_dict()["arch"] == EVERY_OP
    assert config_from_dict(cfg.to_dict()) == cfg
    path = tmp_path / "net.yaml"
    path.write_text(
        f'{{family: nb201, arch: "{BEST}", num_classes: 100, in_channels: 3, input_size: 32}}\n'
    )
    loaded = load_config(path)
    assert isinstance(loaded, NB201Config) and loaded.arch == BEST and loaded.num_classes == 100
    assert count_params(loaded) == count_params(get_preset("nb201_best_cifar10")) + 64 * 90 + 90
    assert load_config(save_config(loaded, tmp_path / "again.json")) == loaded


@pytest.mark.parametrize(
    "arch",
    [
        "|nor_conv_3x3~0|",
        "nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2",
        "|none~0|+|none~1|none~0|+|none~0|none~1|none~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|",
        "|none|+|none~0|none~1|+|none~0|none~1|none~2|",
        "",
    ],
)
def test_a_malformed_arch_string_is_one_line(arch: str) -> None:
    with pytest.raises(ValueError, match=r"^arch: .* is not a NAS-Bench-201 arch string") as info:
        NB201Config(arch=arch)
    assert "\n" not in str(info.value)


def test_an_unknown_op_names_its_edge() -> None:
    with pytest.raises(ValueError, match=r"^arch: 'conv_5x5' on edge 1->2 is not an op; choose"):
        parse_arch("|none~0|+|none~0|conv_5x5~1|+|none~0|none~1|none~2|")


def test_the_command_line_refuses_a_bad_arch_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = invoke(capsys, "count", "|none~0|+|none~0|max_pool_3x3~1|+|none~0|")
    assert code == 2
    assert err.strip().count("\n") == 0 and "not a NAS-Bench-201 arch string" in err
    code, _, err = invoke(
        capsys, "count", "|none~0|+|none~0|max_pool_3x3~1|+|none~0|none~1|none~2|"
    )
    assert code == 2 and "'max_pool_3x3' on edge 1->2 is not an op" in err


def test_count_takes_an_arch_string(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = invoke(capsys, "count", BEST, "--json")
    assert code == 0
    assert json.loads(out)["params"] == 1_073_466


@pytest.mark.parametrize(
    "arch, shape",
    [
        (EVERY_OP, DataShape(10, 3, 32)),
        (BEST, DataShape(100, 1, 28)),
        (EVERY_OP, DataShape(10, 3, 9)),
    ],
)
def test_built_model_matches_the_counts_and_trains(arch: str, shape: DataShape) -> None:
    cfg = NB201Config(
        arch=arch,
        channels=8,
        cells_per_stage=2,
        num_classes=shape.num_classes,
        in_channels=shape.in_channels,
        input_size=shape.input_size,
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) == count_params(cfg)
    assert build_and_count_forward_flops(cfg) == forward_flops(cfg)
    out = model(torch.randn(2, shape.in_channels, shape.input_size, shape.input_size))
    assert out.shape == (2, shape.num_classes)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_a_cell_of_none_edges_outputs_zeros() -> None:
    cfg = NB201Config(arch=format_arch(["nor_conv_3x3", "none", "none", "none", "none", "none"]))
    model = build_model(cfg)
    x = torch.randn(2, 16, 32, 32)
    assert torch.equal(model.cells[0](x), torch.zeros_like(x))


def test_the_space_holds_15625_cells_and_decodes_to_arch_strings() -> None:
    space = get_space("nb201")
    assert space.size() == 15_625
    params = dict(zip(space.params, parse_arch(EVERY_OP)))
    assert space.to_config(params) == NB201Config(arch=EVERY_OP)
    assert space.min_params() == count_params(NB201Config(arch=format_arch(["none"] * 6)))
    assert space.max_params() == count_params(NB201Config(arch=format_arch(["nor_conv_3x3"] * 6)))
    with pytest.raises(ValueError, match="missing knob 'edge_2_3'"):
        get_space("nb201").to_config({k: v for k, v in params.items() if k != "edge_2_3"})


def test_width_scaling_changes_channels_only() -> None:
    from archbench.models import fit_to_budget

    cfg = get_preset("nb201_best_cifar10")
    fitted = fit_to_budget(cfg, 500_000)
    assert fitted.arch == cfg.arch and fitted.channels < cfg.channels
    assert count_params(fitted) <= 500_000
