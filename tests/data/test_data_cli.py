"""``archbench data``: the JSON contract and the one-line error contract, through a real process."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from archbench.cli import main
from archbench.data import list_datasets

RunCli = Callable[..., subprocess.CompletedProcess[str]]  # the ``cli`` fixture of tests/conftest.py


def test_list_json_is_one_document(cli: RunCli, tmp_path: Path) -> None:
    result = cli("data", "list", "--json", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == list_datasets()
    by_name = {row["name"]: row for row in rows}
    assert by_name["mnist5k"]["present"] and by_name["mnist5k"]["shape"] == [1, 28, 28]
    assert not by_name["cifar10"]["present"]
    assert by_name["cifar10"]["location"] == str(tmp_path / "cifar-10-batches-py")
    assert by_name["cifar100"]["num_classes"] == 100


def test_show_reads_files_given_with_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process (a fresh interpreter costs seconds): the command's logic, not the wiring."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for prefix, count in (("train", 6), ("t10k", 4)):
        images = np.zeros((count, 28, 28), np.uint8)
        header = bytes([0, 0, 8, 3]) + struct.pack(">3i", count, 28, 28)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(header + images.tobytes())
        )
        labels = np.arange(count, dtype=np.uint8)
        header = bytes([0, 0, 8, 1]) + struct.pack(">i", count)
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(header + labels.tobytes())
    with pytest.raises(SystemExit) as exited:
        main(["data", "show", "mnist", "--data-dir", str(tmp_path), "--json"])
    assert exited.value.code == 0
    document = json.loads(capsys.readouterr().out)
    assert [split["size"] for split in document["splits"]] == [6, 4]
    assert document["splits"][1]["per_class"] == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]


def test_missing_dataset_exits_2_with_one_line(cli: RunCli, tmp_path: Path) -> None:
    result = cli("data", "show", "cifar10", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("archbench: error: cifar10: files not found")
    assert "`archbench data download cifar10`" in lines[0]
    assert str(tmp_path / "cifar-10-batches-py") in lines[0]
