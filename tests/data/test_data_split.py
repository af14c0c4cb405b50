"""``split_train_val``: disjoint, deterministic, stratified, nested subsets."""

from __future__ import annotations

import pytest
import torch

from archbench.data import Dataset, split_train_val

# Deliberately unbalanced: 50, 30, 17 and 3 items.
COUNTS = (50, 30, 17, 3)


def indexed_dataset(counts: tuple[int, ...] = COUNTS) -> Dataset:
    """Items whose first two pixels encode their index, so splits can be traced back."""
    labels = torch.cat([torch.full((count,), label) for label, count in enumerate(counts)])
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(5))]
    images = torch.zeros(len(labels), 1, 8, 8, dtype=torch.uint8)
    index = torch.arange(len(labels))
    images[:, 0, 0, 0], images[:, 0, 0, 1] = index % 256, index // 256
    return Dataset("toy", images, labels, tuple("abcd"), (0.5,), (0.25,))


def indices(ds: Dataset) -> list[int]:
    return (ds.images[:, 0, 0, 0].long() + 256 * ds.images[:, 0, 0, 1].long()).tolist()


def test_split_is_disjoint_complete_and_keeps_labels() -> None:
    ds = indexed_dataset()
    train, val = split_train_val(ds, val_fraction=0.2, seed=3)
    assert not set(indices(train)) & set(indices(val))
    assert sorted(indices(train) + indices(val)) == list(range(len(ds)))
    for part in (train, val):
        assert torch.equal(part.labels, ds.labels[indices(part)])
        assert (part.name, part.classes, part.mean, part.std) == (
            "toy",
            ds.classes,
            (0.5,),
            (0.25,),
        )


def test_split_is_stratified() -> None:
    train, val = split_train_val(indexed_dataset(), val_fraction=0.2, seed=0)
    assert torch.bincount(val.labels).tolist() == [10, 6, 3, 1]  # round(0.2 * count)
    assert torch.bincount(train.labels).tolist() == [40, 24, 14, 2]


def test_split_depends_on_the_seed_only() -> None:
    ds = indexed_dataset()
    first, second = split_train_val(ds, 0.2, seed=7), split_train_val(ds, 0.2, seed=7)
    assert indices(first[1]) == indices(second[1])
    assert indices(split_train_val(ds, 0.2, seed=8)[1]) != indices(first[1])


def test_subset_is_stratified_nested_and_leaves_validation_alone() -> None:
    ds = indexed_dataset()
    full_train, val = split_train_val(ds, 0.2, seed=1)
    half_train, half_val = split_train_val(ds, 0.2, seed=1, subset=0.5)
    fifth_train, _ = split_train_val(ds, 0.2, seed=1, subset=0.2)
    assert indices(half_val) == indices(val)
    assert torch.bincount(half_train.labels).tolist() == [20, 12, 7, 1]
    assert torch.bincount(fifth_train.labels).tolist() == [8, 5, 3, 1]  # never below 1
    assert set(indices(fifth_train)) <= set(indices(half_train)) <= set(indices(full_train))


def test_zero_validation_fraction_keeps_everything_for_training() -> None:
    train, val = split_train_val(indexed_dataset(), val_fraction=0.0)
    assert (len(train), len(val)) == (100, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_fraction": 1.0}, "val_fraction must be in"),
        ({"val_fraction": -0.1}, "val_fraction must be in"),
        ({"subset": 0.0}, "subset must be in"),
        ({"subset": 1.5}, "subset must be in"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_train_val(indexed_dataset(), **kwargs)  # type: ignore[arg-type]
