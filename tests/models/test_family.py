"""The family registry: lookup, refusals, and a fourth family added with one record."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import torch
from torch import nn

from archbench.models import (
    PRESETS,
    Family,
    ModelConfig,
    Preset,
    _family,
    _presets,
    build_model,
    config_from_dict,
    count_params,
    fit_to_budget,
    forward_flops,
    get_family,
    get_preset,
    list_families,
    list_presets,
    register_family,
    scale_widths,
)
from archbench.spaces import ChoiceParam, IntParam, SearchSpace


def test_built_in_families_are_registered_by_name() -> None:
    assert list_families() == ["resnet", "vgg", "branchnet", "nb201"]
    for name in list_families():
        family = get_family(name)
        assert family.name == name
        assert family.config_class.__dataclass_fields__["family"].default == name


@pytest.mark.parametrize("name", ["mlp", ["resnet"], {"resnet": 1}, 3, None])
def test_unknown_or_mistyped_family_is_a_value_error(name: Any) -> None:
    with pytest.raises(ValueError, match="is not a model family; choose one of resnet"):
        get_family(name)
    with pytest.raises(ValueError, match="is not a model family"):
        config_from_dict({"family": name, "stages": []})


def test_registering_a_taken_name_raises() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_family(get_family("vgg"))
    with pytest.raises(ValueError, match="a preset named 'vgg11_cifar' is already registered"):
        _presets.register_presets(PRESETS["vgg11_cifar"])


def test_each_family_registers_its_presets_in_family_order() -> None:
    families = [PRESETS[name].config["family"] for name in list_presets()]
    assert families == sorted(families, key=list_families().index)
    assert set(families) == set(list_families())


# A fourth family, defined here in full: its config, counter, width scaler, decoder and builder.
@dataclass(frozen=True, kw_only=True)
class MLPConfig(ModelConfig):
    family: Literal["mlp"] = "mlp"
    hidden: tuple[int, ...] = (64,)


def count_mlp(cfg: MLPConfig) -> int:
    widths = [cfg.in_channels * cfg.input_size**2, *cfg.hidden, cfg.num_classes]
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def scale_mlp(cfg: MLPConfig, multiplier: float) -> MLPConfig:
    return dataclasses.replace(cfg, hidden=tuple(max(4, int(w * multiplier)) for w in cfg.hidden))


def decode_mlp(params: Mapping[str, Any]) -> MLPConfig:
    return MLPConfig(hidden=tuple(params[f"hidden{i}"] for i in range(1, params["layers"] + 1)))


def build_mlp(cfg: MLPConfig) -> nn.Module:
    widths = [cfg.in_channels * cfg.input_size**2, *cfg.hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], cfg.num_classes))


def test_a_fourth_family_is_one_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_family, "_FAMILIES", dict(_family._FAMILIES))
    monkeypatch.setattr(_presets, "PRESETS", dict(_presets.PRESETS))
    register_family(
        Family(
            name="mlp",
            config_class=MLPConfig,
            builder=f"{__name__}:build_mlp",
            count=count_mlp,
            scale_widths=scale_mlp,
            decode=decode_mlp,
        )
    )
    _presets.register_presets(
        Preset("mlp_small", "a test", {"family": "mlp", "hidden": [128, 32], "input_size": 28})
    )
    cfg = get_preset("mlp_small")
    assert cfg == config_from_dict({"family": "mlp", "hidden": [128, 32], "input_size": 28})
    model = build_model(cfg)
    assert count_params(cfg) == sum(p.numel() for p in model.parameters())
    assert model(torch.zeros(2, 3, 28, 28)).shape == (2, 10)
    assert scale_widths(cfg, 0.5) == dataclasses.replace(cfg, hidden=(64, 16))
    assert count_params(fit_to_budget(cfg, 150_000)) <= 150_000
    # No analytic FLOPs counter registered: counted on a meta-device build, Linear layers only.
    assert forward_flops(cfg, batch_size=3) == 3 * 2 * (3 * 28 * 28 * 128 + 128 * 32 + 32 * 10)
    space = SearchSpace(
        "mlps",
        "mlp",
        {
            "layers": IntParam(1, 2),
            "hidden1": ChoiceParam((32, 64)),
            "hidden2": ChoiceParam((16, 32)),
        },
    )
    assert space.max_params() == count_mlp(MLPConfig(hidden=(64, 32)))


def test_a_family_whose_config_names_another_family_is_refused() -> None:
    with pytest.raises(ValueError, match="defaults to 'mlp', not 'perceptron'"):
        register_family(
            Family(
                "perceptron", MLPConfig, f"{__name__}:build_mlp", count_mlp, scale_mlp, decode_mlp
            )
        )
