"""Strict config parsing: unknown keys, wrong types and impossible values name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from archbench.models import (
    config_from_dict,
    count_params,
    fit_to_budget,
    get_preset,
    list_presets,
    load_config,
    resolve_config,
    save_config,
)


@pytest.mark.parametrize("name", list_presets())
def test_round_trip_through_dict_yaml_and_json(name: str, tmp_path: Path) -> None:
    cfg = get_preset(name)
    assert config_from_dict(cfg.to_dict()) == cfg
    assert load_config(save_config(cfg, tmp_path / "c.yaml")) == cfg
    assert load_config(save_config(cfg, tmp_path / "c.json")) == cfg


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"stem_channels": "64"}, "stem_channels"),
        ({"stem_channels": -8}, "stem_channels"),
        ({"block": "wide"}, "block"),
        ({"skip_kernel": 5}, "skip_kernel"),
        ({"stages": []}, "stages"),
        ({"stages": [{"depth": 9, "channels": 64}]}, "stages[0].depth"),
        ({"stages": [{"depth": 1, "channels": 64, "width": 3}]}, "width"),
        ({"se_ratio": True}, "se_ratio"),
        ({"family": "mobilenet"}, "family"),
    ],
)
def test_bad_values_name_the_field(change: dict, field: str) -> None:
    data = {**get_preset("resnet20_cifar").to_dict(), **change}
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        config_from_dict(data)


def test_malformed_yaml_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("family: resnet\nstages: [1, 2\n")
    with pytest.raises(ValueError, match="malformed"):
        load_config(path)


def test_resolve_accepts_presets_and_files_and_rejects_the_rest(tmp_path: Path) -> None:
    assert resolve_config("quizdnn") == get_preset("quizdnn")
    path = save_config(get_preset("quizdnn"), tmp_path / "q.yaml")
    assert resolve_config(str(path)) == get_preset("quizdnn")
    with pytest.raises(ValueError, match="neither a preset"):
        resolve_config("resnet1000")


@pytest.mark.parametrize("name", ["resnet18_cifar", "vgg16_cifar", "branchnet_cifar"])
def test_fit_to_budget_fits_and_stays_close(name: str) -> None:
    cfg = get_preset(name)
    fitted = fit_to_budget(cfg, 2_000_000)
    assert count_params(fitted) <= 2_000_000
    assert count_params(fitted) > 1_500_000
    assert fit_to_budget(fitted, 2_000_000) == fitted


def test_fit_to_budget_refuses_an_impossible_budget() -> None:
    with pytest.raises(ValueError, match="narrowest"):
        fit_to_budget(get_preset("resnet18_cifar"), 1000)
