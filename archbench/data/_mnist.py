"""Reader for MNIST (LeCun et al., 1998) and Fashion-MNIST (Xiao et al., 2017) IDX files.

An IDX file is a big-endian header (a magic number made of two zero bytes, the type code ``0x08``
for uint8 and the number of dimensions D), then D int32 sizes, then the values. We read the
raw or gzipped files with numpy and check the magic number and the size the header promises, so a
truncated download fails here with a clear message instead of as a reshape error later.

Files are looked up in torchvision's layout (``<root>/MNIST/raw/``, where ``archbench data
download`` puts them) and in a plain ``<root>/mnist/`` folder.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from archbench.data._dataset import SPLITS, CorruptFile, Dataset, Split, files_error

MnistName = Literal["mnist", "fashion_mnist"]

FOLDERS: dict[MnistName, tuple[str, ...]] = {
    "mnist": ("MNIST/raw", "mnist"),
    "fashion_mnist": ("FashionMNIST/raw", "fashion_mnist"),
}
_FILES: dict[Split, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CLASSES: dict[MnistName, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}  # fmt: skip
# Per-channel statistics of the 60,000 training images.
_STATS: dict[MnistName, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
}
_IMAGES_MAGIC = 0x0803  # uint8, 3 dimensions
_LABELS_MAGIC = 0x0801  # uint8, 1 dimension


def expected_files(split: Split) -> tuple[str, ...]:
    """IDX file names one split needs, each raw or gzipped."""
    return tuple(f"{filename}[.gz]" for filename in _FILES[split])


def find_folder(root: Path, name: MnistName, split: Split | None = None) -> Path | None:
    """The first candidate folder that holds every file ``split`` needs, raw or gzipped."""
    splits = (split,) if split else SPLITS
    for folder in (root / relative for relative in FOLDERS[name]):
        if all(_raw_or_gz(folder / f).is_file() for s in splits for f in _FILES[s]):
            return folder
    return None


def locate(root: Path, name: MnistName) -> tuple[Path, bool]:
    """The folder holding both splits, else torchvision's (where the download puts them); found?"""
    folder = find_folder(root, name)
    return (folder, True) if folder is not None else (root / FOLDERS[name][0], False)


def read_mnist(root: Path, name: MnistName, split: Split) -> Dataset:
    """Reads one split of MNIST or Fashion-MNIST from ``root``.

    Raises:
        ValueError: when a file is missing, truncated or not in the format; one line naming the
            expected files, the folders searched and ``archbench data download``.
    """
    folders = [root / relative for relative in FOLDERS[name]]
    folder = find_folder(root, name, split)
    if folder is None:
        raise files_error(name, "files not found", expected_files(split), folders)
    images_path, labels_path = (_raw_or_gz(folder / f) for f in _FILES[split])
    try:
        images = _read_idx(images_path, _IMAGES_MAGIC)
        labels = _read_idx(labels_path, _LABELS_MAGIC)
        if len(images) != len(labels):
            raise CorruptFile(labels_path.name, f"{len(labels)} labels for {len(images)} images")
        if labels.size and labels.max() >= len(_CLASSES[name]):
            raise CorruptFile(labels_path.name, f"labels outside [0, {len(_CLASSES[name]) - 1}]")
    except CorruptFile as exc:
        raise files_error(name, str(exc), expected_files(split), [folder]) from exc
    mean, std = _STATS[name]
    return Dataset(
        name=name,
        images=torch.from_numpy(images).unsqueeze(1),
        labels=torch.from_numpy(labels.astype(np.int64)),
        classes=_CLASSES[name],
        mean=mean,
        std=std,
    )


def _raw_or_gz(path: Path) -> Path:
    """``path.gz`` when only the gzipped file exists, else ``path``: either form will do."""
    gzipped = path.with_name(path.name + ".gz")
    return gzipped if gzipped.is_file() and not path.is_file() else path


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """The array in one IDX file, after checking its magic number and its length."""
    try:
        content = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptFile(path.name, f"cannot decompress: {exc}") from exc
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(content) < header:
        raise CorruptFile(path.name, f"{len(content)} bytes, shorter than the {header}-byte header")
    found = int.from_bytes(content[:4], "big")
    if found != magic:
        raise CorruptFile(path.name, f"magic number {found:#010x}, expected {magic:#010x}")
    shape = tuple(int(size) for size in np.frombuffer(content, ">i4", count=ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(content) != expected:
        raise CorruptFile(path.name, f"{len(content)} bytes, the header promises {expected}")
    return np.frombuffer(content, np.uint8, offset=header).reshape(shape).copy()
