"""``SearchSpec``: what a study stores of its search, and when a resume may not mix two searches."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from archbench.budget import Budget
from archbench.search._context import TrialContext
from archbench.store import SearchSpec
from tests.search.conftest import TINY_BUDGET, tiny_settings


def spec_of(tiny_space: Path, train_seed: int | None = None, **overrides: object) -> SearchSpec:
    settings = tiny_settings(tiny_space, "sqlite:///unused.db", 3, **overrides)
    return TrialContext.of(settings, train_seed).spec()


def test_the_spec_is_stored_as_json_attrs_with_the_trials_recipe(tiny_space: Path) -> None:
    spec = spec_of(tiny_space, train_seed=7)
    attrs = json.loads(json.dumps(spec.to_attrs()))  # what a storage keeps
    assert attrs["max_params"] == TINY_BUDGET and attrs["objectives"] == ["accuracy"]
    assert attrs["epochs"] == 1 == attrs["recipe"]["epochs"]  # --epochs applied
    assert attrs["recipe"]["seed"] == 7  # the train seed, not the recipe's own
    assert spec.conflict(attrs) is None


def test_a_resume_must_match_budget_and_data_but_may_change_the_sampler(
    tiny_space: Path,
) -> None:
    stored = spec_of(tiny_space).to_attrs()
    assert spec_of(tiny_space, sampler="random", epochs=2).conflict(stored) is None
    other = spec_of(tiny_space, budget=Budget(max_params=TINY_BUDGET + 1))
    assert other.conflict(stored) == f"max_params={TINY_BUDGET}, not {TINY_BUDGET + 1}"
    assert other.conflict({}) is None  # a creator that died before writing: filled in later


def test_every_field_but_the_version_mark_is_a_stored_attr(tiny_space: Path) -> None:
    names = {field.name for field in dataclasses.fields(SearchSpec)}
    assert set(spec_of(tiny_space).to_attrs()) == names
    assert set(SearchSpec.MUST_MATCH) <= names


def test_the_results_read_the_spec_back_and_a_field_an_older_study_lacks_is_none(
    tiny_space: Path,
) -> None:
    spec = spec_of(tiny_space)
    assert SearchSpec.read(json.loads(json.dumps(spec.to_attrs()))) == spec
    older = SearchSpec.read({"space": "resnet", "max_params": 5_000_000, "other": 1})
    assert (older.space, older.max_params, older.family, older.objectives) == (
        "resnet", 5_000_000, None, None,
    )  # fmt: skip
