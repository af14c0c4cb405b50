"""``spaces``, ``presets`` and ``count``: JSON contracts and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from archbench.models import get_preset
from archbench.spaces import get_space, list_spaces, load_space
from tests.conftest import invoke, run_cli


def test_count_resnet18_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(capsys, "count", "resnet18_cifar", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["params"] == 11_173_962
    assert document["macs"] * 2 == document["flops"] > 0


def test_spaces_and_presets_print_one_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(capsys, "spaces", "--json")
    assert code == 0
    assert {row["name"] for row in json.loads(out)} >= {"resnet", "vgg", "branchnet"}
    code, out, _ = invoke(capsys, "presets", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["resnet18_cifar"]["params"] == 11_173_962


@pytest.mark.parametrize("name", list_spaces())
def test_spaces_show_json_is_a_valid_space_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    code, out, _ = invoke(capsys, "spaces", "show", name, "--json")
    assert code == 0
    document = json.loads(out)
    space = get_space(name)
    assert document["summary"] == {
        "knobs": len(space.params),
        "size": space.size(),
        "min_params": space.min_params(),
        "max_params": space.max_params(),
        "input": [3, 32, 32],
        "num_classes": 10,
    }
    path = tmp_path / "shown.json"
    path.write_text(out)
    assert load_space(path) == space
    code, again, _ = invoke(capsys, "spaces", "show", str(path), "--json")
    assert (code, again) == (0, out)


def _one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = invoke(capsys, *args)
    assert (code, out) == (2, "")
    assert err.startswith("archbench: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("family", [["resnet"], {"name": "vgg"}, 3, 1.5, None, True])
def test_a_family_of_the_wrong_type_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, family: object
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**get_preset("quizdnn").to_dict(), "family": family}))
    assert "is not a model family" in _one_line_error(capsys, "count", str(config))
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({**get_space("vgg").to_dict(), "family": family}))
    err = _one_line_error(capsys, "spaces", "show", str(space))
    assert "'family' must be a string" in err or "is not a model family" in err


def test_a_space_missing_a_knob_fails_show_and_search_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = get_space("branchnet").to_dict()
    del document["params"]["block1.kernel2"]
    space = tmp_path / "mine.yaml"
    space.write_text(yaml.safe_dump(document))
    assert "missing knob 'block1.kernel2'" in _one_line_error(capsys, "spaces", "show", str(space))
    storage = tmp_path / "s.db"
    err = _one_line_error(
        capsys, "search", "--space", str(space), "--max-params", "5M", "--trials", "1",
        "--storage", f"sqlite:///{storage}", "--quiet",
    )  # fmt: skip
    assert "missing knob 'block1.kernel2'" in err
    assert not storage.exists(), "a refused space must not touch the storage"


def test_count_reads_a_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(get_preset("quizdnn").to_dict()))
    code, out, _ = invoke(capsys, "count", str(path), "--json")
    assert code == 0
    assert json.loads(out)["params"] == 310_346


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "neither a preset"),
        ("family: resnet\nstages: [1, 2\n", "malformed"),
        ("family: resnet\ncolour: red\nstages: []\n", "unknown key 'colour'"),
        (
            "family: resnet\nstages:\n  - {depth: 2, channels: -16}\n",
            "stages[0].channels",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str | None, message: str
) -> None:
    target = "resnet1000"
    if content is not None:
        target = str(tmp_path / "bad.yaml")
        Path(target).write_text(content)
    code, out, err = invoke(capsys, "count", target)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err


def test_real_console_script_errors_have_no_traceback() -> None:
    result = run_cli("count", "nope", "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("archbench: error:") and "Traceback" not in result.stderr
    result = run_cli("spaces", "show", "nope")
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import archbench

    code, out, _ = invoke(capsys, "--version")
    assert code == 0 and out == f"archbench {archbench.__version__}\n"


def test_spaces_say_the_shape_their_counts_are_for(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(capsys, "spaces", "--json")
    assert code == 0
    assert {(tuple(row["input"]), row["num_classes"]) for row in json.loads(out)} == {
        ((3, 32, 32), 10)
    }
    code, out, _ = invoke(capsys, "spaces", "show", "resnet")
    assert "for 3x32x32 inputs, 10 classes" in " ".join(out.split())


def test_score_space_names_the_shape_and_counts_params_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = invoke(
        capsys, "score", "--space", "resnet", "--max-params", "50k", "--samples", "2",
        "--scores", "params,flops", "--dataset", "synthetic",
    )  # fmt: skip
    assert code == 0, err
    text = " ".join(out.split())
    assert "for 3x32x32 inputs and 10 classes (synthetic)" in text
    header = next(line for line in out.splitlines() if "rank" in line)
    assert header.count("params") == 1


def test_a_budget_below_the_space_names_the_shape_of_its_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = invoke(capsys, "score", "--space", "resnet", "--max-params", "500")
    assert code == 2
    assert "its smallest config has 666 params for 1x28x28 inputs and 10 classes" in err


@pytest.mark.parametrize(("columns", "widest"), [("80", 80), (None, 160)])
def test_piped_tables_respect_columns(columns: str | None, widest: int) -> None:
    import subprocess
    import sys

    from tests.conftest import child_env

    env = child_env()
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    result = subprocess.run(
        [sys.executable, "-c", "from archbench.cli import main; main()", "spaces"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) == widest
