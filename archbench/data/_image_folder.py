"""Image-folder data sets: ``train/<class>/<image>`` folders, or a tar or zip archive of them.

The layout is torchvision's ``ImageFolder``, one folder per split: ``train/`` and ``test/`` are
required, ``val/`` is optional (without it, validation is split from ``train/`` as for every other
data set). One wrapping folder is allowed (``cifar10-jpeg/train/...``), since that is how most
archives are made.

Images are decoded once, in parallel threads (Pillow releases the GIL while it decodes), into
uint8 arrays cached under the data root and keyed by the source's identity: path, size and
modification time of the archive, or of every file of a folder. A second run reads the cache and
starts at once; touching the source decodes again.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archbench.data._dataset import Dataset

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif", ".tiff"}
)
FOLDER_SPLITS = ("train", "val", "test")
CACHE_FOLDER = "image-folders"
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
_CHUNK = 256  # images per task handed to a decoding thread

Reader = Callable[[], bytes]
# What this process loaded last, by the path as given: a data set is named by that path, and its
# augmentation (which depends on the image size) and its val/ split are looked up by name later.
_LOADED: dict[str, FolderInfo] = {}


@dataclass(frozen=True)
class _Entry:
    split: str
    label: int
    name: str  # the image's path inside the source, for error messages
    read: Reader


@dataclass(frozen=True)
class FolderInfo:
    """What a decoded image folder holds; cheap to read back (a small JSON file beside the cache).

    Attributes:
        source: the folder or archive, as an absolute path.
        classes: class names (folder names, sorted), index = label.
        shape: (channels, height, width) of every image.
        counts: images per split, per class: ``{"train": [...], "test": [...]}`` (and ``val``).
        cache: the ``.npz`` file holding the decoded pixels.
        resize: the side images were resized to, or None when they were all one size already.
        decode_seconds: how long decoding took when the cache was written.
    """

    source: str
    classes: tuple[str, ...]
    shape: tuple[int, int, int]
    counts: dict[str, list[int]]
    cache: str
    resize: int | None
    decode_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "classes": list(self.classes),
            "shape": list(self.shape),
            "counts": self.counts,
            "cache": self.cache,
            "resize": self.resize,
            "decode_seconds": self.decode_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FolderInfo:
        return cls(
            source=data["source"],
            classes=tuple(data["classes"]),
            shape=(data["shape"][0], data["shape"][1], data["shape"][2]),
            counts={split: list(counts) for split, counts in data["counts"].items()},
            cache=data["cache"],
            resize=data["resize"],
            decode_seconds=data["decode_seconds"],
        )


def looks_like_path(name: str) -> bool:
    """Whether a ``--dataset`` value names a folder or an archive rather than a registry entry."""
    return "/" in name or os.sep in name or name.endswith(ARCHIVE_SUFFIXES) or Path(name).exists()


def short_name(path: str | Path) -> str:
    """A short name for a folder or archive, for run folders and study names: its stem."""
    name = Path(path).name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def folder_info(path: str | Path, cache_root: Path, resize: int | None = None) -> FolderInfo:
    """Decodes the source into the cache if needed, and says what it holds.

    Args:
        path: a folder, or a ``.tar``, ``.tar.gz``, ``.tgz`` or ``.zip`` file of one.
        cache_root: the data root; the cache goes into its ``image-folders/`` folder.
        resize: resize every image to ``resize`` x ``resize`` pixels (needed when sizes differ);
            None keeps the files' size, or whatever size an existing cache was made with.

    Raises:
        ValueError: one line for a missing source, a layout without ``train/`` or ``test/``,
            an empty class folder, classes that differ between splits, a corrupt image (named)
            or images of different sizes without ``resize``.
    """
    source = _check_source(path)
    meta_file = cache_root / CACHE_FOLDER / f"{short_name(source)}-{_identity(source)}.json"
    info = None
    if meta_file.is_file():
        info = FolderInfo.from_dict(json.loads(meta_file.read_text()))
    if info is None or not Path(info.cache).is_file() or resize not in (None, info.resize):
        info = _decode_to_cache(source, meta_file, resize)
    _LOADED[str(path)] = info
    return info


def loaded_info(path: str) -> FolderInfo | None:
    """What this process last loaded under the name ``path``, if anything."""
    return _LOADED.get(path)


def read_split(info: FolderInfo, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 (N, C, H, W) images and int64 labels of one split, from the cache."""
    arrays = _read_cache(info.cache)
    return arrays[f"{split}_images"], arrays[f"{split}_labels"]


def channel_stats(info: FolderInfo) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the training images, in [0, 1] units."""
    arrays = _read_cache(info.cache)
    return tuple(arrays["mean"].tolist()), tuple(arrays["std"].tolist())


@lru_cache(maxsize=2)
def _read_cache(cache: str) -> dict[str, np.ndarray]:
    """All arrays of one cache file; kept, since a command reads its train and test splits."""
    with np.load(cache) as arrays:
        return {key: arrays[key] for key in arrays.files}


def _check_source(path: str | Path) -> Path:
    source = Path(path).expanduser().resolve()
    if not source.exists():
        raise ValueError(f"{path}: no such folder or archive")
    if source.is_file() and not source.name.endswith(ARCHIVE_SUFFIXES):
        raise ValueError(
            f"{path}: not a folder or a {', '.join(ARCHIVE_SUFFIXES)} archive of image folders"
        )
    return source


def _identity(source: Path) -> str:
    """A hash of the source's path, and of the size and modification time of its files."""
    digest = hashlib.sha256(str(source).encode())
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        digest.update(
            f"{file.relative_to(source.parent)}:{stat.st_size}:{stat.st_mtime_ns};".encode()
        )
    return digest.hexdigest()[:16]


def _decode_to_cache(source: Path, meta_file: Path, resize: int | None) -> FolderInfo:
    started = time.perf_counter()
    entries, classes = _index(source)
    images = _decode_all(entries, resize)
    channels = max(image.shape[0] for image in images)
    shapes = {image.shape[1:] for image in images}
    height, width = next(iter(shapes))
    if len(shapes) > 1 or height != width:
        raise ValueError(
            f"{source}: {_size_problem(entries, images)}; pass --resize N "
            "(`archbench data show PATH --resize N` caches them resized for every command)"
        )
    arrays: dict[str, np.ndarray] = {}
    counts: dict[str, list[int]] = {}
    for split in FOLDER_SPLITS:
        chosen = [i for i, entry in enumerate(entries) if entry.split == split]
        if not chosen:
            continue
        stacked = np.stack([_with_channels(images[i], channels) for i in chosen])
        labels = np.array([entries[i].label for i in chosen], dtype=np.int64)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = stacked, labels
        counts[split] = np.bincount(labels, minlength=len(classes)).tolist()
    train = arrays["train_images"]
    pixels = train.transpose(1, 0, 2, 3).reshape(channels, -1)
    arrays["mean"] = pixels.mean(axis=1, dtype=np.float64) / 255
    # A constant channel would divide by zero when normalizing; one grey level is the floor.
    arrays["std"] = np.maximum(pixels.std(axis=1, dtype=np.float64) / 255, 1 / 255)
    meta_file.parent.mkdir(parents=True, exist_ok=True)
    cache = meta_file.with_suffix(".npz")
    partial = cache.with_name(cache.stem + f".{os.getpid()}.partial.npz")
    np.savez(partial, allow_pickle=False, **arrays)
    partial.replace(cache)
    size = train.shape[-1]
    info = FolderInfo(
        source=str(source),
        classes=classes,
        shape=(channels, size, size),
        counts=counts,
        cache=str(cache),
        resize=resize,
        decode_seconds=round(time.perf_counter() - started, 3),
    )
    meta_file.write_text(json.dumps(info.to_dict(), indent=1))
    _read_cache.cache_clear()
    return info


def _size_problem(entries: list[_Entry], images: list[np.ndarray]) -> str:
    """Names two images of different sizes, or the first image when all are one non-square size."""
    first = images[0].shape[1:]
    for entry, image in zip(entries, images, strict=True):
        if image.shape[1:] != first:
            return (
                f"images differ in size: {entries[0].name} is {first[1]}x{first[0]}, "
                f"{entry.name} is {image.shape[2]}x{image.shape[1]}"
            )
    return f"images are not square: {entries[0].name} is {first[1]}x{first[0]}"


def _with_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Grey images repeated into RGB when the set mixes both."""
    return np.repeat(image, channels, axis=0) if image.shape[0] != channels else image


def _decode_all(entries: list[_Entry], resize: int | None) -> list[np.ndarray]:
    """Every image as uint8 (C, H, W), C = 1 for grey and 3 for colour, decoded in threads."""
    chunks = [entries[i : i + _CHUNK] for i in range(0, len(entries), _CHUNK)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        decoded = pool.map(lambda chunk: [_decode(entry, resize) for entry in chunk], chunks)
        return [image for chunk in decoded for image in chunk]


def _decode(entry: _Entry, resize: int | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(entry.read())) as image:
            image.load()
            converted = image.convert("L" if image.mode in _GREY_MODES else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{entry.name}: corrupt or unreadable image ({reason})") from None
    if resize is not None and converted.size != (resize, resize):
        converted = converted.resize((resize, resize), Image.Resampling.BILINEAR)
    pixels = np.asarray(converted, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def _index(source: Path) -> tuple[list[_Entry], tuple[str, ...]]:
    """The images of every split with their labels, and the class names; checks the layout."""
    paths, readers = _list(source)
    top = {parts[0] for parts in paths}
    if len(top) == 1 and not top & set(FOLDER_SPLITS):  # one wrapping folder: step inside it
        inside = [i for i, parts in enumerate(paths) if len(parts) > 1]
        paths = [paths[i][1:] for i in inside]
        readers = [readers[i] for i in inside]
        top = {parts[0] for parts in paths}
    where = f"{source}: expected train/<class>/<image> and test/<class>/<image>"
    for split in ("train", "test"):
        if split not in top:
            found = ", ".join(sorted(f"{name}/" for name in top)) or "nothing"
            raise ValueError(f"{where}, found no {split}/ folder (found {found})")
    class_sets: dict[str, set[str]] = {}
    images: dict[str, dict[str, list[int]]] = {}
    for index, parts in enumerate(paths):
        if parts[0] not in FOLDER_SPLITS or len(parts) < 2:
            continue
        class_sets.setdefault(parts[0], set()).add(parts[1])
        is_image = len(parts) > 2 and readers[index] is not None
        if is_image and Path(parts[-1]).suffix.lower() in IMAGE_SUFFIXES:
            images.setdefault(parts[0], {}).setdefault(parts[1], []).append(index)
    for split, names in class_sets.items():
        for name in sorted(names):
            if not images.get(split, {}).get(name):
                raise ValueError(f"{source}: class folder {split}/{name}/ holds no images")
    classes = tuple(sorted(class_sets["train"]))
    for split, names in class_sets.items():
        if names != set(classes):
            extra, missing = sorted(names - set(classes)), sorted(set(classes) - names)
            raise ValueError(
                f"{source}: the classes of {split}/ differ from train/'s"
                + (f"; only in {split}/: {', '.join(extra)}" if extra else "")
                + (f"; missing from {split}/: {', '.join(missing)}" if missing else "")
            )
    entries = [
        _Entry(split, label, "/".join(paths[index]), readers[index])  # type: ignore[arg-type]
        for split in FOLDER_SPLITS
        for label, name in enumerate(classes)
        for index in sorted(images.get(split, {}).get(name, []), key=lambda i: paths[i])
    ]
    return entries, classes


def _list(source: Path) -> tuple[list[tuple[str, ...]], list[Reader | None]]:
    """Every path in the source (folders too, with no reader), hidden ones skipped."""
    paths: list[tuple[str, ...]] = []
    readers: list[Reader | None] = []
    for parts, reader in _walk(source):
        if parts and not any(part.startswith(".") or part == "__MACOSX" for part in parts):
            paths.append(parts)
            readers.append(reader)
    return paths, readers


def _walk(source: Path) -> Iterator[tuple[tuple[str, ...], Reader | None]]:
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            parts = path.relative_to(source).parts
            yield parts, (path.read_bytes if path.is_file() else None)
    elif source.name.endswith(".zip"):
        try:
            with zipfile.ZipFile(source) as archive:
                for info in archive.infolist():
                    data = None if info.is_dir() else archive.read(info)
                    yield _parts(info.filename), (_constant(data) if data is not None else None)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ValueError(f"{source}: not a readable zip archive ({exc})") from None
    else:
        try:
            raw = source.read_bytes()
            if source.name.endswith((".gz", ".tgz")):
                raw = gzip.decompress(raw)  # in one go: far faster than tarfile's streamed reads
            with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
                for member in archive:
                    start = member.offset_data
                    data = raw[start : start + member.size] if member.isfile() else None
                    yield _parts(member.name), (_constant(data) if data is not None else None)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{source}: not a readable tar archive ({exc})") from None


def _parts(name: str) -> tuple[str, ...]:
    return tuple(part for part in name.split("/") if part not in ("", "."))


def _constant(data: bytes) -> Reader:
    return lambda: data


def folder_val_split(train: Dataset) -> Dataset | None:
    """The ``val/`` split of the image folder whose whole train split ``train`` is, if it has one.

    This is how every command gets a folder's own validation images: they all split validation
    off the train split with ``split_train_val``, which asks here first.
    """
    info = loaded_info(train.name)
    if info is None or "val" not in info.counts or len(train) != sum(info.counts["train"]):
        return None
    return load_folder_split(train.name, "val", Path(info.cache).parent.parent)


def load_folder_split(
    path: str | Path, split: str, cache_root: Path, resize: int | None = None
) -> Dataset:
    """One split of an image folder as a ``Dataset`` named ``path`` (decoded into the cache once).

    Raises:
        ValueError: a bad source (see ``folder_info``), or a split the source does not hold.
    """
    info = folder_info(path, cache_root, resize)
    if split not in info.counts:
        raise ValueError(f"{path}: holds no {split}/ folder")
    images, labels = read_split(info, split)
    mean, std = channel_stats(info)
    return Dataset(
        name=str(path),
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels),
        classes=info.classes,
        mean=mean,
        std=std,
    )
