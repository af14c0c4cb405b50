"""A tiny data set, model and recipe that train in a fraction of a second on a CPU."""

from __future__ import annotations

import pytest
import torch

from archbench.data import Augment, Dataset
from archbench.models import VGGConfig, VGGStage
from archbench.train import TrainRecipe

# Batch norm, dropout and every augmentation: all the state and randomness a resume must restore.
TINY_CONFIG = VGGConfig(
    stages=(VGGStage(convs=1, channels=4),),
    classifier=(8,),
    dropout=0.5,
    num_classes=4,
    in_channels=1,
    input_size=8,
)
TINY_RECIPE = TrainRecipe(
    optimizer="sgd_nesterov",
    lr=0.05,
    batch_size=16,
    epochs=4,
    schedule="cosine",
    warmup_epochs=1,
    label_smoothing=0.1,
    augmentation=Augment(crop_padding=2, flip=True, cutout=3),
)
METRIC_NAMES = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "seconds",
    "images_per_second",
]


def tiny_dataset(count: int, seed: int) -> Dataset:
    """``count`` noisy 8x8 images whose class is the bright quadrant (4 classes)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 4
    images = torch.randint(0, 100, (count, 1, 8, 8), generator=generator, dtype=torch.uint8)
    for label in range(4):
        rows, columns = divmod(label, 2)
        selected = images[labels == label]
        selected[:, :, rows * 4 : rows * 4 + 4, columns * 4 : columns * 4 + 4] += 150
        images[labels == label] = selected
    return Dataset(
        name="synthetic",
        images=images,
        labels=labels,
        classes=("top left", "top right", "bottom left", "bottom right"),
        mean=(0.4,),
        std=(0.3,),
    )


@pytest.fixture(scope="session")
def tiny_data() -> tuple[Dataset, Dataset]:
    """(train, val): 64 training images (4 steps of 16) and 32 validation images."""
    return tiny_dataset(64, seed=0), tiny_dataset(32, seed=1)
