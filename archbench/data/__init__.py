"""Data sets as uint8 tensors, and a loader that augments whole batches on the training device.

Readers for the standard on-disk formats (CIFAR-10/100 python pickles, MNIST and Fashion-MNIST IDX
files) under one data root; ``mnist5k``, ``digits`` and ``synthetic`` need no files at all. Any
image folder (``train/<class>/<image>``, ``test/...``), or a tar or zip of one, is a data set too,
named by its path and decoded once into a uint8 cache under the data root.
``DeviceLoader`` keeps a data set on the device and crops, flips, normalizes and cuts out per
batch there, the airbench approach (docs/DESIGN.md, decision 5).
"""

from __future__ import annotations

from archbench.data._augment import Augment
from archbench.data._dataset import Dataset, resolve_data_dir
from archbench.data._image_folder import FolderInfo
from archbench.data._loader import DeviceLoader
from archbench.data._registry import (
    DatasetInfo,
    dataset_info,
    dataset_label,
    default_augment,
    download_dataset,
    image_folder_info,
    is_image_folder,
    list_datasets,
    load_dataset,
)
from archbench.data._split import split_train_val

__all__ = [
    "Augment",
    "Dataset",
    "DatasetInfo",
    "DeviceLoader",
    "FolderInfo",
    "dataset_info",
    "dataset_label",
    "default_augment",
    "download_dataset",
    "image_folder_info",
    "is_image_folder",
    "list_datasets",
    "load_dataset",
    "resolve_data_dir",
    "split_train_val",
]
