"""Deterministic, stratified splits: validation sets, proxy-training subsets, embedded test sets.

Every class is split in the same proportion, so a 10% validation set or a 25% proxy subset keeps
the class balance of the whole, and small proxy runs are not skewed toward whichever class a
plain random draw happened to favour. The split is a function of (labels, fraction, seed) only.
We use a torch generator rather than scikit-learn's ``train_test_split``: importing
``sklearn.model_selection`` costs a second per process, and this is a dozen lines.
"""

from __future__ import annotations

import dataclasses

import torch

from archbench.data._dataset import Dataset
from archbench.data._image_folder import folder_val_split


def stratified_split(
    labels: torch.Tensor, fraction: float, seed: int, keep: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the kept part and of the held-out ``fraction`` of every class, each sorted.

    Each class is shuffled once by ``seed``; its first ``round(fraction * n)`` items are held out
    and the first ``round(keep * rest)`` (at least one) of the rest are kept. So subsets are nested:
    the 25% subset is part of the 50% subset for the same seed.
    """
    generator = torch.Generator().manual_seed(seed)
    # Grouped by class, in random order within each: a random permutation, then a stable sort by
    # label (a permutation has no ties, unlike sorting random keys, so the result is exact).
    order = torch.randperm(len(labels), generator=generator)
    order = order[torch.sort(labels[order], stable=True).indices]
    sorted_labels = labels[order]
    counts = torch.bincount(labels, minlength=1)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(labels)) - starts[sorted_labels]  # position within its class
    held_out = torch.floor(counts * fraction + 0.5).long()
    kept = torch.clamp(torch.floor((counts - held_out) * keep + 0.5).long(), min=1)
    is_held_out = rank < held_out[sorted_labels]
    is_kept = ~is_held_out & (rank < (held_out + kept)[sorted_labels])
    return order[is_kept].sort().values, order[is_held_out].sort().values


def take(ds: Dataset, indices: torch.Tensor) -> Dataset:
    """The items at ``indices``; name, classes and normalization statistics stay the parent's."""
    return dataclasses.replace(ds, images=ds.images[indices], labels=ds.labels[indices])


def split_train_val(
    ds: Dataset, val_fraction: float = 0.1, seed: int = 0, subset: float = 1.0
) -> tuple[Dataset, Dataset]:
    """Splits ``ds`` into training and validation parts, stratified by class and fixed by ``seed``.

    Args:
        ds: usually the ``train`` split; the test split stays untouched for final numbers.
        val_fraction: share of every class held out for validation, in [0, 1).
        seed: the same seed gives the same split on every machine and run.
        subset: share of the training part kept, in (0, 1], for cheap proxy training; the
            validation part does not shrink, so proxy accuracies stay comparable.

    Returns:
        (train, val), both keeping ``ds.name``, classes, mean and std. When ``ds`` is the train
        split of an image folder that has a ``val/`` folder, val is that folder, whole, and the
        training part is all of ``ds`` (then ``subset`` of it).
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if not 0 < subset <= 1:
        raise ValueError(f"subset must be in (0, 1], got {subset}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    own_val = folder_val_split(ds)
    if own_val is not None:
        kept, _ = stratified_split(ds.labels, 0.0, seed, keep=subset)
        return take(ds, kept), own_val
    train_indices, val_indices = stratified_split(ds.labels, val_fraction, seed, keep=subset)
    return take(ds, train_indices), take(ds, val_indices)
