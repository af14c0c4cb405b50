"""The CIFAR and IDX readers against small files written here in the real formats."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from archbench.data import dataset_info, load_dataset, resolve_data_dir

CIFAR10_NAMES = [
    b"airplane", b"automobile", b"bird", b"cat", b"deer",
    b"dog", b"frog", b"horse", b"ship", b"truck",
]  # fmt: skip
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

Expected = dict[str, tuple[torch.Tensor, torch.Tensor]]


def _write_pickle(path: Path, content: object, protocol: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(content, protocol=protocol))


def _expected(rows: list[np.ndarray], labels: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(np.concatenate(rows).reshape(-1, 3, 32, 32))
    return images, torch.tensor([label for part in labels for label in part])


def write_cifar10(root: Path, protocol: int = 2, per_batch: int = 7) -> Expected:
    """Five training batches and a test batch, bytes keys as in the Python 2 originals."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    _write_pickle(
        folder / "batches.meta",
        {b"label_names": CIFAR10_NAMES, b"num_cases_per_batch": per_batch, b"num_vis": 3072},
        protocol,
    )
    expected = {}
    for split, files in (
        ("train", [f"data_batch_{i}" for i in range(1, 6)]),
        ("test", ["test_batch"]),
    ):
        rows, labels = [], []
        for filename in files:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            batch_labels = rng.integers(0, 10, per_batch).tolist()
            content = {b"batch_label": filename.encode(), b"data": data, b"labels": batch_labels}
            _write_pickle(folder / filename, content, protocol)
            rows.append(data)
            labels.append(batch_labels)
        expected[split] = _expected(rows, labels)
    return expected


def write_cifar100(root: Path) -> dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    rng = np.random.default_rng(1)
    folder = root / "cifar-100-python"
    meta = {
        b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
    }
    _write_pickle(folder / "meta", meta)
    expected: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {"fine": {}, "coarse": {}}
    for split, count in (("train", 30), ("test", 11)):
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        fine = rng.integers(0, 100, count).tolist()
        coarse = rng.integers(0, 20, count).tolist()
        _write_pickle(
            folder / split, {b"data": data, b"fine_labels": fine, b"coarse_labels": coarse}
        )
        expected["fine"][split] = _expected([data], [fine])
        expected["coarse"][split] = _expected([data], [coarse])
    return expected


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.tobytes()


def write_mnist(folder: Path, gz: bool) -> Expected:
    rng = np.random.default_rng(2)
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for split, count in (("train", 13), ("test", 5)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count).astype(np.uint8)
        for filename, array in zip(IDX_FILES[split], (images, labels)):
            content = idx_bytes(array)
            if gz:
                (folder / f"{filename}.gz").write_bytes(gzip.compress(content))
            else:
                (folder / filename).write_bytes(content)
        expected[split] = (torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long())
    return expected


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_reads_back_exactly(tmp_path: Path, protocol: int) -> None:
    expected = write_cifar10(tmp_path, protocol)
    for split in ("train", "test"):
        ds = load_dataset("cifar10", split, tmp_path)
        images, labels = expected[split]
        assert ds.images.dtype == torch.uint8 and ds.images.shape == images.shape
        assert torch.equal(ds.images, images)
        assert torch.equal(ds.labels, labels) and ds.labels.dtype == torch.int64
        assert ds.classes == tuple(name.decode() for name in CIFAR10_NAMES)
        assert (ds.name, ds.num_classes, ds.in_channels, ds.input_size) == ("cifar10", 10, 3, 32)
    assert len(load_dataset("cifar10", "train", tmp_path)) == 35


def test_cifar10_rows_are_rgb_planes(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    data = np.zeros((1, 3072), dtype=np.uint8)
    data[0, :1024] = 255  # the first plane is red
    _write_pickle(tmp_path / "cifar-10-batches-py" / "test_batch", {b"data": data, b"labels": [3]})
    image = load_dataset("cifar10", "test", tmp_path).images[0]
    assert image[0].eq(255).all() and image[1:].eq(0).all()


def test_cifar100_fine_and_coarse_labels(tmp_path: Path) -> None:
    expected = write_cifar100(tmp_path)
    for name, kind, classes in (("cifar100", "fine", 100), ("cifar100_coarse", "coarse", 20)):
        for split in ("train", "test"):
            ds = load_dataset(name, split, tmp_path)
            images, labels = expected[kind][split]
            assert torch.equal(ds.images, images) and torch.equal(ds.labels, labels)
            assert ds.num_classes == classes and ds.classes[1] == f"{kind}1"


@pytest.mark.parametrize(
    ("name", "folder", "gz"),
    [
        ("mnist", "MNIST/raw", False),
        ("mnist", "MNIST/raw", True),
        ("mnist", "mnist", False),
        ("mnist", "mnist", True),
        ("fashion_mnist", "FashionMNIST/raw", True),
        ("fashion_mnist", "fashion_mnist", False),
    ],
)
def test_mnist_reads_back_exactly(tmp_path: Path, name: str, folder: str, gz: bool) -> None:
    expected = write_mnist(tmp_path / folder, gz)
    for split in ("train", "test"):
        ds = load_dataset(name, split, tmp_path)
        images, labels = expected[split]
        assert ds.images.shape == images.shape == (len(labels), 1, 28, 28)
        assert torch.equal(ds.images, images) and torch.equal(ds.labels, labels)
        assert ds.num_classes == 10 and ds.input_size == 28
    info = dataset_info(name, tmp_path)
    assert info.present and info.location == str(tmp_path / folder)


def _one_line_error(name: str, data_dir: Path, split: str = "train") -> str:
    with pytest.raises(ValueError) as caught:
        load_dataset(name, split, data_dir)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert f"archbench data download {name}" in message
    return message


def test_missing_files_name_files_folder_and_fix(tmp_path: Path) -> None:
    message = _one_line_error("cifar10", tmp_path)
    assert "data_batch_1" in message and "batches.meta" in message
    assert str(tmp_path / "cifar-10-batches-py") in message
    message = _one_line_error("mnist", tmp_path, "test")
    assert "t10k-images-idx3-ubyte" in message
    assert str(tmp_path / "MNIST" / "raw") in message and str(tmp_path / "mnist") in message
    assert not dataset_info("cifar10", tmp_path).present


def test_partly_missing_cifar_names_the_missing_file(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    assert "missing data_batch_3;" in _one_line_error("cifar10", tmp_path)
    assert len(load_dataset("cifar10", "test", tmp_path)) == 7  # the test split is complete
    assert not dataset_info("cifar10", tmp_path).present


def test_truncated_cifar_batch(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    path.write_bytes(path.read_bytes()[:5000])
    assert "data_batch_2 is truncated or corrupt" in _one_line_error("cifar10", tmp_path)


def test_cifar_batch_with_wrong_content(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    _write_pickle(folder / "test_batch", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    assert "rows have 100 values" in _one_line_error("cifar10", tmp_path, "test")
    _write_pickle(folder / "test_batch", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]})
    assert "1 labels for 2 images" in _one_line_error("cifar10", tmp_path, "test")


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_cifar_pickle_cannot_run_code(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    marker = tmp_path / "ran"
    _write_pickle(tmp_path / "cifar-10-batches-py" / "test_batch", {b"data": _RunsCode(marker)})
    assert "refusing to load" in _one_line_error("cifar10", tmp_path, "test")
    assert not marker.exists()


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_idx_file(tmp_path: Path, gz: bool) -> None:
    folder = tmp_path / "MNIST" / "raw"
    write_mnist(folder, gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    content = (folder / name).read_bytes()
    (folder / name).write_bytes(content[: len(content) // 2])
    message = _one_line_error("mnist", tmp_path)
    assert f"{name} is truncated or corrupt" in message
    assert ("cannot decompress" if gz else "the header promises") in message


def test_idx_file_longer_than_its_header_says(tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    write_mnist(folder, gz=False)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes() + bytes(784))
    assert "4720 bytes, the header promises 3936" in _one_line_error("mnist", tmp_path, "test")


def test_idx_file_with_wrong_magic_number(tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    write_mnist(folder, gz=False)
    labels = folder / "train-labels-idx1-ubyte"
    (folder / "train-images-idx3-ubyte").write_bytes(labels.read_bytes())
    assert "magic number 0x00000801, expected 0x00000803" in _one_line_error("mnist", tmp_path)


def test_idx_label_count_must_match(tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    write_mnist(folder, gz=False)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    assert "3 labels for 5 images" in _one_line_error("mnist", tmp_path, "test")


def test_data_root_from_argument_environment_or_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_mnist(tmp_path / "mnist", gz=True)
    monkeypatch.setenv("ARCHBENCH_DATA", str(tmp_path))
    assert len(load_dataset("mnist", "test")) == 5
    assert resolve_data_dir("elsewhere") == Path("elsewhere")
    monkeypatch.delenv("ARCHBENCH_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "archbench" / "data"


def test_unknown_name_and_split() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'cifar11'; choose one of: cifar10"):
        load_dataset("cifar11")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_dataset("synthetic", "val")  # type: ignore[arg-type]
