"""The in-memory data set every reader returns, where data files live, and the missing-file error.

A data set is small enough to hold whole: CIFAR-10's 50,000 training images are 153 MB as uint8.
Keeping pixels as uint8 (N, C, H, W) until the last moment is what lets the loader move the whole
set to the training device once and augment there (docs/DESIGN.md, decision 5).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

Split = Literal["train", "test"]
SPLITS: tuple[Split, ...] = ("train", "test")

DATA_DIR_ENV = "ARCHBENCH_DATA"
DEFAULT_DATA_DIR = Path("~/.cache/archbench/data")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images, labels and what is needed to normalize them, for one split of one data set.

    Attributes:
        name: the registry name (``cifar10``, ``mnist5k``, ...); splits keep their parent's name so
            that ``default_augment(ds.name)`` still applies.
        images: uint8 (N, C, H, W) CPU tensor, square images.
        labels: int64 (N,) tensor of class indices into ``classes``.
        classes: class names, index = label.
        mean: per-channel mean in [0, 1] units, from the training split; splits inherit it so that
            training, validation and test data are normalized alike.
        std: per-channel standard deviation in [0, 1] units, from the training split.
    """

    name: str
    images: torch.Tensor = field(repr=False)
    labels: torch.Tensor = field(repr=False)
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(
                f"{self.name}: images must be a uint8 (N, C, H, W) tensor, "
                f"got {images.dtype} {tuple(images.shape)}"
            )
        if images.shape[2] != images.shape[3]:
            raise ValueError(f"{self.name}: images must be square, got {tuple(images.shape[2:])}")
        if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
            raise ValueError(
                f"{self.name}: labels must be int64 of shape ({images.shape[0]},), "
                f"got {labels.dtype} {tuple(labels.shape)}"
            )
        if not self.classes:
            raise ValueError(f"{self.name}: classes must name at least one class")
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(self.classes)):
            raise ValueError(
                f"{self.name}: labels must lie in [0, {len(self.classes) - 1}], "
                f"got [{int(labels.min())}, {int(labels.max())}]"
            )
        channels = images.shape[1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(
                f"{self.name}: mean and std need one value per channel ({channels}), "
                f"got {len(self.mean)} and {len(self.std)}"
            )
        if min(self.std) <= 0:
            raise ValueError(f"{self.name}: std must be positive, got {self.std}")

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, size={len(self)}, "
            f"shape={tuple(self.images.shape[1:])}, num_classes={self.num_classes})"
        )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return self.images.shape[1]

    @property
    def input_size(self) -> int:
        """Side length of the square images (what ``ModelConfig.input_size`` wants)."""
        return self.images.shape[-1]


class CorruptFile(Exception):
    """A data file that exists but does not hold what its format promises."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"{filename} is truncated or corrupt ({reason})")


def check_split(split: str) -> Split:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split  # type: ignore[return-value]


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data root: ``data_dir``, else ``$ARCHBENCH_DATA``, else ``~/.cache/archbench/data``.

    One root for every data set mirrors torchvision's ``root`` argument, so that a folder filled by
    torchvision (``archbench data download``) is read as is.
    """
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()


def files_error(
    name: str, problem: str, expected: Sequence[str], folders: Sequence[Path]
) -> ValueError:
    """One line that says what is wrong, which files are expected where, and how to get them."""
    where = " or ".join(str(folder) for folder in folders)
    return ValueError(
        f"{name}: {problem}; expected {', '.join(expected)} in {where}; get them with "
        f"`archbench data download {name}` (needs internet) or copy them there"
    )
