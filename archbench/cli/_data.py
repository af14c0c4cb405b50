"""``archbench data list``, ``show`` and ``download``: which data sets there are; getting them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from archbench.cli._app import app
from archbench.cli._common import (
    DATA_DIR_OPTION,
    JSON_OPTION,
    console,
    fail,
    print_json,
    user_errors,
)

if TYPE_CHECKING:
    from archbench.data import Dataset, FolderInfo

data_app = typer.Typer(
    help="List the data sets, check that their files read, or download them.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


@data_app.command("list")
def data_list(data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION) -> None:
    """List the data sets: shape, classes, sizes, and whether their files are present."""
    from archbench.data import dataset_info, list_datasets, resolve_data_dir

    rows = [dataset_info(name, data_dir).to_dict() for name in list_datasets()]
    if json_output:
        print_json(rows)
        return
    table = Table(title=f"Data sets (data root {resolve_data_dir(data_dir)})")
    for column in ("name", "shape", "classes", "train", "test", "present", "where"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["name"],
            "x".join(str(size) for size in row["shape"]),
            str(row["num_classes"]),
            f"{row['train_size']:,}",
            f"{row['test_size']:,}",
            "yes" if row["present"] else "no",
            "embedded" if row["embedded"] else row["location"],
        )
    console.print(table)


@data_app.command("show")
def data_show(
    name: str = typer.Argument(
        ...,
        help="A data set name (see `archbench data list`), or an image folder with train/ and "
        "test/ class folders, or a .tar, .tar.gz, .tgz or .zip of one.",
    ),
    data_dir: Path | None = DATA_DIR_OPTION,
    resize: int | None = typer.Option(
        None,
        "--resize",
        min=1,
        help="Image folders: resize every image to N x N (for images of different sizes); the "
        "cache keeps the resized images for every later command.",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Read every split of a data set: sizes, classes, and the normalization it uses.

    An image folder is decoded into the cache on first use; this shows where that cache is.
    """
    import torch

    with user_errors():
        folder = _folder(name, data_dir, resize)
        split_names = list(folder.counts) if folder else ["train", "test"]
        splits = {split: _load_split(name, split, data_dir) for split in split_names}
    rows: list[dict[str, Any]] = [
        {
            "split": split,
            "size": len(ds),
            "shape": list(ds.images.shape[1:]),
            "per_class": torch.bincount(ds.labels, minlength=ds.num_classes).tolist(),
        }
        for split, ds in splits.items()
    ]
    train = splits["train"]
    if json_output:
        print_json(
            {
                "name": name,
                "classes": list(train.classes),
                "mean": list(train.mean),
                "std": list(train.std),
                "splits": rows,
                **({"image_folder": folder.to_dict()} if folder else {}),
            }
        )
        return
    classes = f" ({', '.join(train.classes)})" if len(train.classes) <= 20 else ""
    table = Table(
        title=f"{name}: {train.num_classes} classes{classes}, normalized with "
        f"mean {_floats(train.mean)}, std {_floats(train.std)}"
    )
    for column in ("split", "images", "shape", "images per class"):
        table.add_column(column)
    for row in rows:
        per_class = row["per_class"]
        table.add_row(
            row["split"],
            f"{row['size']:,}",
            "x".join(str(size) for size in row["shape"]),
            f"{min(per_class):,} to {max(per_class):,}",
        )
    console.print(table)
    if folder:
        resized = f", resized to {folder.resize}x{folder.resize}" if folder.resize else ""
        console.print(f"cache: {folder.cache} (decoded in {folder.decode_seconds:.1f} s{resized})")


@data_app.command("download")
def data_download(
    name: str = typer.Argument(..., help="A file-backed data set: cifar10, cifar100, mnist, ..."),
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Download a data set with torchvision (md5-checked) into the data root."""
    from archbench.data import dataset_info, download_dataset

    with user_errors():
        info = dataset_info(name, data_dir)
    if info.embedded:
        console.print(f"{name} ships with archbench's dependencies; nothing to download")
        return
    console.print(f"downloading {name} into {info.location} ...")
    try:
        download_dataset(name, data_dir)
    except RuntimeError as exc:
        fail(str(exc))
    console.print(f"{name}: ready")


def _folder(name: str, data_dir: Path | None, resize: int | None) -> FolderInfo | None:
    """The image folder's cache facts, or None for a registry data set."""
    from archbench.data import dataset_info, image_folder_info, list_datasets

    if name in list_datasets():
        if resize is not None:
            raise ValueError("--resize applies to image folders, not to registry data sets")
        return None
    if resize is None:
        dataset_info(name, data_dir)  # an unknown name gets the registry's error, with the choices
    return image_folder_info(name, data_dir, resize)


def _load_split(name: str, split: str, data_dir: Path | None) -> Dataset:
    """One split; an image folder's val/ comes with it, through ``split_train_val``."""
    from archbench.data import load_dataset, split_train_val

    if split != "val":
        return load_dataset(name, split, data_dir)  # type: ignore[arg-type]  # train or test
    return split_train_val(load_dataset(name, "train", data_dir))[1]


def _floats(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{value:.4f}" for value in values) + ")"
