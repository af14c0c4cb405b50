"""``archbench score``: one JSON document, a space's samples ranked, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archbench.models import count_params, get_preset, resolve_config
from tests.conftest import invoke


def test_score_one_preset_prints_one_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(capsys, "score", "simple_cnn", "--scores", "params,synflow", "--json")
    assert code == 0
    document = json.loads(out)
    cfg = get_preset("simple_cnn").with_data(num_classes=10, in_channels=1, input_size=28)
    assert document["values"]["params"] == count_params(cfg)  # adapted to mnist5k
    assert document["values"]["synflow"] > 0 and list(document["values"]) == ["params", "synflow"]


def test_score_space_ranks_feasible_samples_best_first(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["score", "--space", "vgg", "--max-params", "200k", "--samples", "3"]
    code, out, _ = invoke(
        capsys, *args, "--scores", "params,naswot,ensemble", "--batch-size", "4", "--json"
    )
    assert code == 0
    configs = json.loads(out)["configs"]
    assert [row["rank"] for row in configs] == [1, 2, 3]
    assert all(row["n_params"] <= 200_000 for row in configs)
    ensemble = [row["values"]["ensemble"] for row in configs]
    assert ensemble == sorted(ensemble, reverse=True)


NB201_ARCH = "|nor_conv_1x1~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


def test_score_configs_scores_a_file_of_configs_in_one_process(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config_file = tmp_path / "net.yaml"
    config_file.write_text(f'{{family: nb201, arch: "{NB201_ARCH}", channels: 8}}\n')
    listing = tmp_path / "configs.txt"
    listing.write_text(f"# three ways to name a config\nquizdnn\n\n{NB201_ARCH}\n{config_file}\n")
    code, out, _ = invoke(
        capsys, "score", "--configs", str(listing), "--scores", "params,naswot", "--batch-size",
        "4", "--json",
    )  # fmt: skip
    assert code == 0
    rows = json.loads(out)["configs"]
    assert [row["spec"] for row in rows] == ["quizdnn", NB201_ARCH, str(config_file)]
    assert [row["config"]["family"] for row in rows] == ["resnet", "nb201", "nb201"]
    assert rows[1]["config"]["arch"] == NB201_ARCH and rows[2]["config"]["channels"] == 8
    assert all(row["values"]["params"] == row["n_params"] for row in rows)
    assert sorted(row["rank"] for row in rows) == [1, 2, 3]


def test_data_free_scores_take_the_shape_of_a_data_set_without_its_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["score", NB201_ARCH, "--scores", "params,flops,synflow", "--dataset", "cifar100"]
    code, out, _ = invoke(capsys, *args, "--data-dir", str(tmp_path / "empty"), "--json")
    assert code == 0
    values = json.loads(out)["values"]
    assert values["params"] == count_params(resolve_config(NB201_ARCH)) + 64 * 90 + 90
    assert values["synflow"] > 0
    code, _, err = invoke(capsys, "score", NB201_ARCH, "--dataset", "cifar100", "--data-dir",
                          str(tmp_path / "empty"))  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1  # snip and the others need the files


@pytest.mark.parametrize(
    "args",
    [
        ["score"],
        ["score", "simple_cnn", "--configs", "configs.txt"],
        ["score", "--configs", "no-such-file.txt"],
        ["score", "|nor_conv_3x3~0|+|none~0|"],
        ["score", "simple_cnn", "--space", "vgg"],
        ["score", "simple_cnn", "--scores", "snp"],
        ["score", "simple_cnn", "--scores", "ensemble"],
        ["score", "--space", "resnet", "--max-params", "100"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, out, err = invoke(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("archbench: error:")


def test_a_bad_line_of_a_configs_file_is_named_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = tmp_path / "configs.txt"
    listing.write_text("quizdnn\n|none~0|+|none~0|conv_5x5~1|+|none~0|none~1|none~2|\n")
    code, out, err = invoke(capsys, "score", "--configs", str(listing), "--scores", "params")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"{listing}: config 2 (" in err and "'conv_5x5' on edge 1->2 is not an op" in err
