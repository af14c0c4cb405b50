"""``spaces``, ``presets`` and ``count``: JSON contracts and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from archbench.models import get_preset
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


def test_spaces_show_json_is_a_valid_space_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = invoke(capsys, "spaces", "show", "vgg", "--json")
    assert code == 0
    document = json.loads(out)
    path = tmp_path / "mine.yaml"
    path.write_text(
        yaml.safe_dump({k: document[k] for k in ("name", "family", "description", "params")})
    )
    code, out, _ = invoke(capsys, "spaces", "show", str(path), "--json")
    assert code == 0
    assert json.loads(out)["params"] == document["params"]


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
