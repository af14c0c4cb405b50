"""Evaluation of a trained model: loss, accuracy, per-class accuracy, confusion matrix, predictions.

Counts stay on the device (one ``bincount`` per batch) and cross to the host once per evaluation,
so validating every epoch costs no more than the forward passes. Flip test-time augmentation
averages the logits of each image and its mirror (as airbench does); it helps on natural images
and hurts on digits, so it is off unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from archbench.data import DeviceLoader

if TYPE_CHECKING:
    from archbench.data import Dataset


@dataclass(frozen=True)
class Evaluation:
    """What a model gets right on one split.

    Attributes:
        loss: mean cross-entropy without label smoothing, comparable across recipes.
        confusion: counts, rows = true class, columns = predicted class.
        classes: class names, in label order.
    """

    loss: float
    confusion: tuple[tuple[int, ...], ...]
    classes: tuple[str, ...]

    @property
    def accuracy(self) -> float:
        """Fraction of all images classified correctly."""
        total = sum(map(sum, self.confusion))
        return sum(row[i] for i, row in enumerate(self.confusion)) / total if total else 0.0

    @property
    def per_class_accuracy(self) -> dict[str, float | None]:
        """Recall of each class; None for a class without images in the split."""
        return {
            name: row[i] / sum(row) if sum(row) else None
            for i, (name, row) in enumerate(zip(self.classes, self.confusion))
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "per_class_accuracy": self.per_class_accuracy,
            "confusion": [list(row) for row in self.confusion],
            "classes": list(self.classes),
        }


def confusion_matrix(
    predictions: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """Counts of (true, predicted) pairs: a square int64 tensor on the inputs' device."""
    pairs = labels.to(torch.int64) * num_classes + predictions.to(torch.int64)
    return torch.bincount(pairs, minlength=num_classes * num_classes).view(num_classes, num_classes)


def evaluate(
    model: nn.Module,
    data: Dataset,
    device: str | torch.device = "cpu",
    tta: bool = False,
    *,
    batch_size: int = 256,
) -> Evaluation:
    """Evaluates ``model`` (already on ``device``) on every image of ``data``, in eval mode.

    Args:
        model: the classifier.
        data: the split to evaluate, e.g. ``load_dataset(name, "test")``.
        device: where the batches go; the model must already be there.
        tta: average the logits of each image and its horizontal mirror.
        batch_size: images per forward pass; only speed and memory depend on it.
    """
    loader = DeviceLoader(data, batch_size, device=torch.device(device), train=False)
    loss, confusion = evaluate_loader(model, loader, data.num_classes, tta=tta)
    return Evaluation(
        loss=loss,
        confusion=tuple(tuple(row) for row in confusion.tolist()),
        classes=tuple(data.classes),
    )


def predict(
    model: nn.Module,
    data: Dataset,
    device: str | torch.device = "cpu",
    tta: bool = False,
    *,
    batch_size: int = 256,
) -> torch.Tensor:
    """Class probabilities (N, num_classes) of every image of ``data``, in order, on the CPU."""
    loader = DeviceLoader(data, batch_size, device=torch.device(device), train=False)
    return torch.cat([logits.softmax(1).cpu() for logits, _ in _logits(model, loader, tta)])


def evaluate_loader(
    model: nn.Module, loader: DeviceLoader, num_classes: int, *, tta: bool = False
) -> tuple[float, torch.Tensor]:
    """Mean cross-entropy and the confusion matrix over an evaluation loader.

    The training loop calls this every epoch with a loader it built once.
    """
    loss_sums: list[torch.Tensor] = []
    confusions: list[torch.Tensor] = []
    for logits, labels in _logits(model, loader, tta):
        loss_sums.append(F.cross_entropy(logits.float(), labels, reduction="sum"))
        confusions.append(confusion_matrix(logits.argmax(1), labels, num_classes))
    if not confusions:
        raise ValueError("cannot evaluate on an empty split")
    confusion = torch.stack(confusions).sum(0).cpu()
    return torch.stack(loss_sums).sum().item() / confusion.sum().item(), confusion


def _logits(
    model: nn.Module, loader: DeviceLoader, tta: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    model.eval()
    with torch.inference_mode():
        for images, labels in loader:
            logits = model(images)
            if tta:
                logits = (logits + model(images.flip(-1))) / 2
            yield logits, labels
