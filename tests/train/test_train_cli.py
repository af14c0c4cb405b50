"""``archbench train`` and ``predict``: bad input in one line, and a real run end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import invoke, run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--recipe", "fast"], "neither a recipe (proxy, sgd_step, adamw_onecycle, sgd_cosine)"),
        (["--lr", "-1"], "lr: must be a positive number"),
        (["--dataset", "imagenet"], "imagenet"),
        (["--device", "gpu"], "device: 'gpu' is not a device"),
    ],
)
def test_bad_input_fails_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = invoke(capsys, "train", "simple_cnn", "--out", str(tmp_path), *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


def test_an_existing_run_is_not_overwritten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    code, _, err = invoke(capsys, "train", "simple_cnn", "--out", str(tmp_path))
    assert code == 2 and "pass --resume to continue it" in err


@pytest.mark.slow
def test_simple_cnn_learns_mnist5k_in_three_epochs_and_writes_every_artifact(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    done = run_cli(
        "train", "simple_cnn", "--dataset", "mnist5k", "--epochs", "3", "--device", "cpu",
        "--out", str(run), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # exactly one JSON document, nothing else
    assert summary["final_val_accuracy"] >= 0.95, summary
    assert summary["epochs_trained"] == 3 and summary["recipe"]["epochs"] == 3
    assert summary["model"]["in_channels"] == 1 and summary["model"]["input_size"] == 28
    assert summary["params"] > 0 and summary["seconds"] > 0
    assert 0.9 <= summary["test_accuracy"] <= 1 and len(summary["test_per_class_accuracy"]) == 10
    for name in ("config.yaml", "checkpoint.pt", "curves.png", "confusion.png"):
        assert (run / name).stat().st_size > 0, name
    assert json.loads((run / "summary.json").read_text()) == summary
    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert float(rows[-1]["val_accuracy"]) == summary["final_val_accuracy"]

    # The run's config.yaml is an exported config: predict with it, and resume from it (in this
    # process, to save the start-up of two more interpreters).
    predictions = tmp_path / "predictions.csv"
    code, out, err = invoke(
        capsys, "predict", str(run / "config.yaml"), "--checkpoint", str(run / "checkpoint.pt"),
        "--dataset", "mnist5k", "--out", str(predictions), "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["accuracy"] == pytest.approx(summary["test_accuracy"])
    with open(predictions) as handle:
        assert len(list(csv.DictReader(handle))) == 1000
    code, out, err = invoke(
        capsys, "train", str(run / "config.yaml"), "--out", str(run), "--resume", "--json"
    )
    assert code == 0, err
    again = json.loads(out)
    assert again["recipe"] == summary["recipe"] and again["epochs_trained"] == 3
    assert again["test_accuracy"] == summary["test_accuracy"]


def test_a_short_check_and_the_full_run_keep_their_own_folders() -> None:
    from archbench.cli._train import default_run_dir

    assert default_run_dir("exports/s-trial-3.yaml", "mnist5k", None) == Path(
        "runs/s-trial-3-mnist5k"
    )
    assert default_run_dir("exports/s-trial-3.yaml", "mnist5k", 3) == Path(
        "runs/s-trial-3-mnist5k-3ep"
    )
