"""``archbench score``: one JSON document, a space's samples ranked, one-line errors."""

from __future__ import annotations

import json

import pytest

from archbench.models import count_params, get_preset
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


@pytest.mark.parametrize(
    "args",
    [
        ["score"],
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
