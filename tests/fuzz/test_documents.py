"""Property-based tests: every mutated document either loads or is refused with one ValueError.

Hypothesis starts from valid documents (presets, built-in spaces, shipped recipes, an export card)
and mutates them: values of the wrong type, missing and extra keys, NaN, infinities, huge
numbers and nested junk. A loader must then succeed or raise ``ValueError``; nothing else may
escape. The command line must turn each refusal into one line on stderr and exit code 2. The
examples are derandomized so CI sees the same documents on every run.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from archbench.models import PRESETS, config_from_dict, load_config
from archbench.spaces import SearchSpace, get_space, list_spaces
from archbench.train import RECIPES, TrainRecipe, load_recipe
from tests.conftest import invoke

pytestmark = pytest.mark.slow  # about 40 s of CPU for the whole module
LIBRARY = settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
CLI = settings(LIBRARY, max_examples=100)

# Junk is drawn from a fixed list (cheap for hypothesis, so 2,000 examples take seconds) plus
# arbitrary integers and floats; nested junk is spelled out.
JUNK_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    3,
    2**63,
    10**400,
    -(10**400),
    0.5,
    -0.0,
    1e-300,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
    "",
    "x",
    "3",
    "resnet",
    "int",
    "choice",
    [],
    [1, 2],
    ["resnet"],
    [[math.nan]],
    [{"depth": 1}],
    {},
    {"type": "int"},
    {"type": "choice", "choices": [1, [2]]},
    {"param": "num_stages", "values": [math.inf]},
    {"a": {"b": [None, {"c": -math.inf}]}},
    {"family": ["vgg"]},
    {1: 2, "1": 3},
]
JUNK = st.one_of(
    st.sampled_from(JUNK_VALUES).map(copy.deepcopy),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
)


def _containers(doc: Any, into: list[Any]) -> list[Any]:
    """Every dict and list inside ``doc`` (itself included), in a stable order."""
    if isinstance(doc, (dict, list)):
        into.append(doc)
        for child in doc.values() if isinstance(doc, dict) else doc:
            _containers(child, into)
    return into


@st.composite
def mutated(draw: st.DrawFn, seeds: list[dict[str, Any]]) -> Any:
    """A seed document with one to three mutations: replace, delete or add a value."""
    doc: Any = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        containers = _containers(doc, [])
        if not containers or draw(st.integers(0, 40)) == 0:
            return draw(JUNK)  # the whole document is junk
        target = containers[draw(st.integers(0, len(containers) - 1))]
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "add" or not keys:
            if isinstance(target, dict):
                target[draw(st.one_of(st.sampled_from(keys or ["x"]), st.text(max_size=8)))] = draw(
                    JUNK
                )
            else:
                target.append(draw(JUNK))
        elif action == "delete":
            del target[draw(st.sampled_from(keys))]
        else:
            target[draw(st.sampled_from(keys))] = draw(JUNK)
    return doc


CONFIGS = [preset.config for preset in PRESETS.values()]
SPACES = [get_space(name).to_dict() for name in list_spaces()]
RECIPE_DOCS = [recipe.to_dict() for recipe in RECIPES.values()]
CARDS = [
    {
        "model": PRESETS["quizdnn"].to_config().to_dict(),
        "n_params": 310_346,
        "metrics": {"dataset": "mnist5k", "val_accuracy": 0.9, "history": [{"epoch": 1}]},
        "profile": None,
        "recipe": recipe,
        "provenance": {"study": "s", "trial": 3},
    }
    for recipe in (RECIPES["proxy"].to_dict(), "sgd_cosine")
]


def _loads_or_value_error(load: Any, document: Any) -> None:
    try:
        load(document)
    except ValueError as exc:
        assert str(exc).strip(), "a refusal must say why"


@LIBRARY
@given(mutated(CONFIGS))
def test_mutated_configs_load_or_raise_value_error(document: Any) -> None:
    _loads_or_value_error(config_from_dict, document)


@LIBRARY
@given(mutated(SPACES))
def test_mutated_spaces_load_or_raise_value_error(document: Any) -> None:
    _loads_or_value_error(SearchSpace.from_dict, document)


@LIBRARY
@given(mutated(RECIPE_DOCS))
def test_mutated_recipes_load_or_raise_value_error(document: Any) -> None:
    _loads_or_value_error(TrainRecipe.from_dict, document)


@LIBRARY
@given(document=mutated(CARDS))
def test_mutated_export_cards_load_or_raise_value_error(document: Any, tmp_path: Path) -> None:
    path = _write(tmp_path / "card.json", document)
    _loads_or_value_error(load_config, path)
    _loads_or_value_error(load_recipe, path)


def _write(path: Path, document: Any) -> Path:
    """JSON for speed (NaN and infinities as Python writes them), YAML for ``.yaml``."""
    if path.suffix == ".json":
        path.write_text(json.dumps(document))
    else:
        path.write_text(yaml.safe_dump(document))
    return path


def _refused(load: Any, path: Path) -> str | None:
    """The library's one-line refusal of the file, or None when it loads."""
    try:
        load(path)
    except ValueError as exc:
        return str(exc).strip().splitlines()[0]
    return None


def _assert_cli_refuses(
    capsys: pytest.CaptureFixture[str], message: str | None, *args: str
) -> None:
    """A refused file exits 2 with exactly the library's message on one line, nothing on stdout."""
    if message is None:
        return
    code, out, err = invoke(capsys, *args)
    assert (code, out) == (2, ""), err
    assert err == f"archbench: error: {message}\n"


@CLI
@given(document=mutated(CONFIGS))
def test_cli_count_refuses_mutated_configs_in_one_line(
    document: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "config.yaml", document)
    _assert_cli_refuses(capsys, _refused(load_config, path), "count", str(path))


@CLI
@given(document=mutated(SPACES))
def test_cli_spaces_show_refuses_mutated_spaces_in_one_line(
    document: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "space.yaml", document)
    message = _refused(lambda p: get_space(str(p)), path)
    _assert_cli_refuses(capsys, message, "spaces", "show", str(path), "--json")


@CLI
@given(document=mutated(RECIPE_DOCS))
def test_cli_train_refuses_mutated_recipes_in_one_line(
    document: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "recipe.yaml", document)
    message = _refused(load_recipe, path)
    run = str(tmp_path / "run")
    _assert_cli_refuses(capsys, message, "train", "quizdnn", "--recipe", str(path), "--out", run)


@CLI
@given(document=mutated(CARDS))
def test_cli_count_profile_train_refuse_mutated_cards_in_one_line(
    document: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "card.yaml", document)
    model_message = _refused(load_config, path)
    _assert_cli_refuses(capsys, model_message, "count", str(path))
    _assert_cli_refuses(capsys, model_message, "profile", str(path), "--memory", "12GiB")
    # train reads the card's recipe when it has one, else its default recipe.
    carries_recipe = isinstance(document, dict) and "recipe" in document
    message = model_message or (_refused(load_recipe, path) if carries_recipe else None)
    run = str(tmp_path / "run")
    _assert_cli_refuses(capsys, message, "train", str(path), "--epochs", "1", "--out", run)
