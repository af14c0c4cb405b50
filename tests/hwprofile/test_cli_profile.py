"""``archbench profile``: one JSON document, result files named by environment, bad input."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from archbench.cli import main

RunCli = Callable[..., subprocess.CompletedProcess[str]]  # the ``cli`` fixture of tests/conftest.py


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """In this process (a fresh interpreter costs seconds): the command's logic."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_json_profile_predicts_a_max_batch_and_writes_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["profile", "simple_cnn", "--device", "cpu", "--level", "basic", "--batch-size", "8",
         "--memory", "24GiB", "--json", "--out", str(tmp_path)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    assert document["model"] == "simple_cnn" and document["config"]["family"] == "vgg"
    profile = document["profile"]
    assert profile["predicted_max_batch_size"] > 1000
    assert profile["predicted_for_memory_bytes"] == 24 * 2**30
    assert profile["env"]["batch_size"] == 8
    torch_version = ".".join(torch.__version__.split(".")[:2])
    expected = tmp_path / f"profile-train-fp32-nchw-pt{torch_version}-cpu-simple_cnn.json"
    assert document["files"] == [str(expected)]
    assert json.loads(expected.read_text()) == document


def test_sweep_prints_a_table_and_writes_a_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["profile", "simple_cnn", "--device", "cpu", "--sweep", "2,4", "--out", str(tmp_path)],
        capsys,
    )
    assert code == 0, err
    assert out.startswith(" ") and "simple_cnn on" in out and "wrote" in out  # the table
    (plot,) = tmp_path.glob("sweep-train-fp32-nchw-*-cpu-simple_cnn.png")
    (record,) = tmp_path.glob("sweep-*.json")
    document = json.loads(record.read_text())
    assert [point["batch_size"] for point in document["sweep"]["points"]] == [2, 4]
    assert document["files"] == [str(plot), str(record)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--memory", "lots"], "memory: cannot read 'lots'"),
        (["--sweep", "8,x"], "sweep: cannot read"),
        (["--sweep", "8", "--max-batch"], "--sweep measures its own batch sizes"),
        (["--level", "fast", "--device", "cpu"], "level: 'fast' is unknown"),
        (["--amp", "fp8", "--device", "cpu"], "amp: 'fp8' is unknown"),
        (["--memory-limit", "24GiB", "--device", "cpu"], "memory_limit: emulates a smaller GPU"),
        (["--memory-limit", "lots"], "memory: cannot read 'lots'"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["profile", "simple_cnn", *argv], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_exits_2_in_a_real_process(cli: RunCli) -> None:
    result = cli("profile", "simple_cnn", "--device", "cuda", "--json")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "torch.cuda.is_available() is False" in lines[0], lines


def test_the_table_shows_memory_at_the_peak_beside_the_steady_state(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        ["profile", "resnet_5m", "--device", "cpu", "--level", "basic", "--batch-size", "2"],
        capsys,
    )
    assert code == 0, err
    words = " ".join(out.replace("│", " ").split())  # the note column wraps
    assert "at the peak: params" in words and "steady state: params" in words


def test_reasons_keep_their_brackets_in_the_table() -> None:
    """rich reads ``[fvcore]`` as markup and drops it unless the cell is plain text."""
    from rich.console import Console

    from archbench.cli._profile import _profile_table
    from archbench.hwprofile import ProfileResult

    reason = "fvcore is not installed; pip install 'archbench[fvcore]' for the cross-check"
    result = ProfileResult(
        n_params=1, model_bytes_fp32=4, model_bytes_fp16=2, flops=2, macs=1, train_step_flops=6,
        unavailable={"latency_ms_median": reason},
    )  # fmt: skip
    console = Console(width=400, record=True)
    console.print(_profile_table("t", result))
    assert "pip install 'archbench[fvcore]'" in console.export_text()
