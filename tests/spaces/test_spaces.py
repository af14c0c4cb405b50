"""Spaces: sampling, validation, size, bounds, JSON round trip, registry and YAML files."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from archbench.models import count_params
from archbench.spaces import (
    ActiveIf,
    ChoiceParam,
    FixedParam,
    FloatParam,
    IntParam,
    SearchSpace,
    get_space,
    list_spaces,
    load_space,
    register_space,
)


@pytest.mark.parametrize("name", list_spaces())
def test_samples_validate_and_are_deterministic(name: str) -> None:
    space = get_space(name)
    for seed in range(50):
        params = space.sample(seed)
        space.validate(params)
        assert params == space.sample(seed)


@pytest.mark.parametrize("name", list_spaces())
def test_json_round_trip(name: str) -> None:
    space = get_space(name)
    again = SearchSpace.from_dict(json.loads(json.dumps(space.to_dict())))
    assert again.to_dict() == space.to_dict()
    assert again.sample(3) == space.sample(3)


@pytest.mark.parametrize("name", list_spaces())
def test_min_and_max_params_bound_samples(name: str) -> None:
    space = get_space(name)
    low, high = space.min_params(), space.max_params()
    counts = [count_params(space.to_config(space.sample(seed))) for seed in range(1000)]
    assert low <= min(counts) and max(counts) <= high
    assert count_params(space.to_config(space.smallest_params())) == low


def test_resnet_space_contains_the_inspiring_5m_search() -> None:
    space = get_space("resnet")
    for knob in (
        "num_stages",
        "stage1.depth",
        "stage1.channels",
        "stage1.kernel_size",
        "skip_kernel",
        "pool_kernel",
    ):
        assert knob in space.params
    assert 0 in space.params["pool_kernel"].values()  # type: ignore[union-attr]


def test_feasible_fraction_is_monotone_in_the_budget() -> None:
    space = get_space("resnet")
    fractions = [space.feasible_fraction(b, samples=300) for b in (10_000, 1_000_000, 5_000_000)]
    assert fractions == sorted(fractions)
    assert space.feasible_fraction(space.max_params(), samples=300) == 1.0


def test_size_counts_conditional_points_exactly() -> None:
    space = SearchSpace(
        "tiny",
        "resnet",
        {
            "num_stages": IntParam(1, 2),
            "stage1.depth": IntParam(1, 3),
            "stage1.channels": FixedParam(16),
            "stage2.depth": IntParam(1, 2, active_if=ActiveIf("num_stages", (2,))),
            "stage2.channels": ChoiceParam((16, 32), ActiveIf("num_stages", (2,))),
            "skip_kernel": ChoiceParam((1, 3)),
        },
    )
    # one stage: 3 depths x 2 skips; two stages: 3 x 2 x 2 x 2
    assert space.size() == 3 * 2 + 3 * 2 * 2 * 2
    seen = {json.dumps(space.sample(seed), sort_keys=True) for seed in range(2000)}
    assert len(seen) == space.size()
    with_float = SearchSpace("f", "resnet", {**space.params, "se_ratio": FloatParam(0.0, 0.5)})
    assert with_float.size() is None


def test_validate_rejects_missing_out_of_bounds_and_inactive() -> None:
    space = get_space("resnet")
    params = space.sample(0)
    bad = dict(params)
    bad["num_stages"] = 1
    with pytest.raises(ValueError, match="inactive"):
        space.validate({**bad, "stage2.depth": 3} if "stage2.depth" not in bad else bad)
    with pytest.raises(ValueError, match="outside"):
        space.validate({**params, "stage1.depth": 99})
    missing = dict(params)
    del missing["skip_kernel"]
    with pytest.raises(ValueError, match="missing"):
        space.validate(missing)


def test_registry_raises_on_duplicates() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_space(get_space("vgg"))


def test_condition_on_a_later_param_is_rejected() -> None:
    with pytest.raises(ValueError, match="defined before"):
        SearchSpace(
            "x", "vgg", {"a": IntParam(1, 2, active_if=ActiveIf("b", (1,))), "b": IntParam(1, 2)}
        )


def test_user_space_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "mine",
                "family": "resnet",
                "params": {
                    "num_stages": {"type": "int", "low": 1, "high": 3},
                    "channels": {"type": "choice", "choices": [16, 32]},
                    "depth": {"type": "fixed", "value": 2},
                    "kernel_size": {"type": "choice", "choices": [3, 5]},
                },
            }
        )
    )
    space = get_space(str(path))
    cfg = space.to_config(space.sample(1))
    assert all(stage.depth == 2 for stage in cfg.stages)
    assert space.size() == 3 * 2 * 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n": {"type": "int", "low": 3, "high": 1}}, "above high"),
        ({"n": {"type": "range", "low": 1}}, "type 'range' is unknown"),
        ({"n": {"type": "int", "low": 1, "high": 2, "size": 3}}, "unknown key 'size'"),
        ({"n": {"type": "choice", "choices": []}}, "at least one"),
        ({"n": {"type": "int", "low": "a", "high": 2}}, "must be a number"),
        ({"n": {"type": "float", "low": 0.0, "high": math.inf}}, "must be finite"),
        ({"n": {"type": "choice", "choices": [math.nan]}}, "a finite number"),
        ({"n": {"type": "int", "low": 1, "high": 2, "log": "yes"}}, "log must be true or false"),
        ({"n": {"type": "int", "low": 1, "high": 10**30}}, "within"),
        (
            {
                "n": {"type": "float", "low": 1, "high": 2},
                "m": {
                    "type": "int",
                    "low": 1,
                    "high": 2,
                    "active_if": {"param": "n", "values": [1]},
                },
            },
            "active_if parent",
        ),
    ],
)
def test_bad_user_spaces_are_clear(tmp_path: Path, params: dict, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", "family": "vgg", "params": params}))
    with pytest.raises(ValueError, match=message):
        load_space(path)


def test_spaces_import_neither_torch_nor_optuna_nor_ray() -> None:
    code = (
        "import sys, random; import archbench.spaces as s; sp = s.get_space('resnet'); "
        "from archbench.models import count_params; "
        "count_params(sp.to_config(sp.sample(random.Random(0)))); "
        "print(sorted(m for m in ('torch', 'optuna', 'ray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sampling_covers_every_stage_count() -> None:
    space = get_space("resnet")
    rng = random.Random(0)
    seen = {space.sample(rng)["num_stages"] for _ in range(200)}
    assert seen == {1, 2, 3, 4, 5}


def _branchnet_space_without(knob: str) -> dict[str, Any]:
    document = get_space("branchnet").to_dict()
    del document["params"][knob]
    return document


def test_a_space_missing_a_knob_its_decoder_needs_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(_branchnet_space_without("block1.kernel2")))
    with pytest.raises(ValueError, match="missing knob 'block1.kernel2'"):
        load_space(path)


@pytest.mark.parametrize(
    ("family", "shown"), [(["resnet"], "['resnet']"), ({"a": 1}, "{'a': 1}"), (3, "3")]
)
def test_a_space_family_of_the_wrong_type_is_a_value_error(family: Any, shown: str) -> None:
    document = {**get_space("vgg").to_dict(), "family": family}
    with pytest.raises(ValueError, match="'family' must be a string"):
        SearchSpace.from_dict(document)
    with pytest.raises(ValueError, match=f"{re.escape(shown)} is not a model family"):
        SearchSpace("x", family, get_space("vgg").params)


def test_an_int_param_of_huge_range_samples_without_listing_its_values() -> None:
    param = IntParam(0, 2**60, step=3)
    assert param.extremes() == [0, 2**60 - 2**60 % 3]
    assert param.contains(param.sample(random.Random(0)))
