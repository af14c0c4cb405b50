"""Reader for the python versions of CIFAR-10 and CIFAR-100 (Krizhevsky, 2009).

Each batch file is a Python 2 pickle of a dict with ``data`` (N x 3072 uint8, rows = the R, G and B
planes of a 32x32 image) and ``labels`` (CIFAR-10) or ``fine_labels``/``coarse_labels``
(CIFAR-100). We read them ourselves rather than through ``torchvision.datasets.CIFAR10`` because
torchvision md5-checks all six files on every load, which rejects the small files our tests write.

A pickle can run arbitrary code when loaded, and these files come from the internet, so the
unpickler only resolves the few numpy names an array needs.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from archbench.data._dataset import SPLITS, CorruptFile, Dataset, Split, files_error

CifarName = Literal["cifar10", "cifar100", "cifar100_coarse"]

FOLDERS: dict[CifarName, str] = {
    "cifar10": "cifar-10-batches-py",
    "cifar100": "cifar-100-python",
    "cifar100_coarse": "cifar-100-python",
}
_BATCHES: dict[CifarName, dict[Split, tuple[str, ...]]] = {
    "cifar10": {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    "cifar100": {"train": ("train",), "test": ("test",)},
    "cifar100_coarse": {"train": ("train",), "test": ("test",)},
}
_META = {"cifar10": "batches.meta", "cifar100": "meta", "cifar100_coarse": "meta"}
_LABEL_KEYS = {"cifar10": "labels", "cifar100": "fine_labels", "cifar100_coarse": "coarse_labels"}
_NAME_KEYS = {
    "cifar10": "label_names",
    "cifar100": "fine_label_names",
    "cifar100_coarse": "coarse_label_names",
}
# Per-channel statistics of the 50,000 training images (population std, as airbench computes it;
# the widely copied 0.2023/0.1994/0.2010 is the mean of per-image stds, not the data set's std).
_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "cifar100_coarse": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
_PIXELS = 3 * 32 * 32

_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Resolves only the globals a pickled numpy array needs; anything else is an error."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def expected_files(name: CifarName, split: Split | None = None) -> tuple[str, ...]:
    """Files one split needs (both splits when ``split`` is None), the metadata file included."""
    splits = (split,) if split else SPLITS
    return tuple(f for s in splits for f in _BATCHES[name][s]) + (_META[name],)


def missing_files(root: Path, name: CifarName, split: Split | None = None) -> list[str]:
    folder = root / FOLDERS[name]
    return [f for f in expected_files(name, split) if not (folder / f).is_file()]


def read_cifar(root: Path, name: CifarName, split: Split) -> Dataset:
    """Reads one split of CIFAR-10 or CIFAR-100 (fine or coarse labels) from ``root``.

    Raises:
        ValueError: when a file is missing, truncated or not in the format; one line naming the
            expected files, the folder and ``archbench data download``.
    """
    folder = root / FOLDERS[name]
    expected = expected_files(name, split)
    missing = missing_files(root, name, split)
    if missing:
        problem = (
            "files not found" if missing == list(expected) else f"missing {', '.join(missing)}"
        )
        raise files_error(name, problem, expected, [folder])
    try:
        classes = _class_names(folder, _META[name], _NAME_KEYS[name])
        images, labels = [], []
        for filename in _BATCHES[name][split]:
            data, batch_labels = _check_batch(
                _load(folder, filename), filename, _LABEL_KEYS[name], len(classes)
            )
            images.append(data)
            labels.append(batch_labels)
    except CorruptFile as exc:
        raise files_error(name, str(exc), expected, [folder]) from exc
    mean, std = _STATS[name]
    return Dataset(
        name=name,
        images=torch.from_numpy(np.concatenate(images).reshape(-1, 3, 32, 32)),
        labels=torch.from_numpy(np.concatenate(labels)),
        classes=classes,
        mean=mean,
        std=std,
    )


def _load(folder: Path, filename: str) -> dict[str, Any]:
    """Unpickles one file into a dict with str keys (Python 2 pickles give bytes keys)."""
    try:
        with (folder / filename).open("rb") as file:
            content = _ArrayUnpickler(file, encoding="bytes").load()
    except Exception as exc:  # unpickling garbage can raise almost any exception type
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise CorruptFile(filename, reason) from exc
    if not isinstance(content, dict):
        raise CorruptFile(filename, f"a pickled {type(content).__name__}, not a dict")
    return {_text(key): value for key, value in content.items()}


def _class_names(folder: Path, filename: str, key: str) -> tuple[str, ...]:
    names = _load(folder, filename).get(key)
    if not isinstance(names, list) or not names:
        raise CorruptFile(filename, f"no list of class names under {key!r}")
    return tuple(_text(class_name) for class_name in names)


def _check_batch(
    batch: dict[str, Any], filename: str, label_key: str, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """The batch's pixels and labels, after checking shapes, dtype and label range."""
    if "data" not in batch or label_key not in batch:
        raise CorruptFile(filename, f"needs keys 'data' and {label_key!r}, has {sorted(batch)}")
    data = batch["data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2):
        raise CorruptFile(filename, "'data' is not a 2-D uint8 array")
    if data.shape[1] != _PIXELS:
        raise CorruptFile(filename, f"'data' rows have {data.shape[1]} values, not {_PIXELS}")
    try:
        labels = np.asarray(batch[label_key], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise CorruptFile(filename, f"{label_key!r} are not integers") from exc
    if labels.shape != (data.shape[0],):
        raise CorruptFile(filename, f"{labels.size} labels for {data.shape[0]} images")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise CorruptFile(filename, f"labels outside [0, {num_classes - 1}]")
    return data, labels


def _text(value: object) -> str:
    return value.decode("latin1") if isinstance(value, bytes) else str(value)
