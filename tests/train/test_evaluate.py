"""Evaluation metrics on cases small enough to work out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from archbench.data import Dataset
from archbench.train import Evaluation, confusion_matrix, evaluate, predict
from tests.train.conftest import tiny_dataset


def test_confusion_matrix_counts_true_rows_and_predicted_columns() -> None:
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    predictions = torch.tensor([0, 1, 1, 2, 0, 2])
    expected = [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert confusion_matrix(predictions, labels, 3).tolist() == expected


def test_accuracy_and_per_class_accuracy_follow_from_the_confusion_matrix() -> None:
    evaluation = Evaluation(
        loss=0.5,
        confusion=((1, 1, 0, 0), (0, 1, 0, 0), (1, 0, 2, 0), (0, 0, 0, 0)),
        classes=("a", "b", "c", "d"),
    )
    assert evaluation.accuracy == pytest.approx(4 / 6)
    assert evaluation.per_class_accuracy == {
        "a": 0.5,
        "b": 1.0,
        "c": pytest.approx(2 / 3),
        "d": None,
    }
    assert evaluation.to_dict()["confusion"][2] == [1, 0, 2, 0]


class _Constant(nn.Module):
    """Always the same logits, whatever the image."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], -1)


class _LeftMinusRight(nn.Module):
    """Class 0 when the left half is brighter, class 1 otherwise; a mirror image swaps them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = x.chunk(2, dim=-1)
        difference = left.sum((1, 2, 3)) - right.sum((1, 2, 3))
        return torch.stack([difference, -difference], 1)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return tiny_dataset(40, seed=2)  # 10 images of each of 4 classes


def test_evaluate_a_constant_model(data: Dataset) -> None:
    evaluation = evaluate(_Constant([2.0, 0.0, 0.0, 0.0]), data, "cpu", batch_size=16)
    assert evaluation.accuracy == 0.25
    assert evaluation.per_class_accuracy == {
        "top left": 1.0,
        "top right": 0.0,
        "bottom left": 0.0,
        "bottom right": 0.0,
    }
    assert [row[0] for row in evaluation.confusion] == [10, 10, 10, 10]
    log_normalizer = math.log(math.exp(2) + 3)
    expected_loss = (log_normalizer - 2) / 4 + 3 * log_normalizer / 4
    assert evaluation.loss == pytest.approx(expected_loss, rel=1e-6)


def test_flip_tta_averages_each_image_with_its_mirror(data: Dataset) -> None:
    two_class = Dataset(
        name=data.name,
        images=data.images,
        labels=data.labels % 2,  # left quadrants are class 0, right ones class 1
        classes=("left", "right"),
        mean=data.mean,
        std=data.std,
    )
    plain = evaluate(_LeftMinusRight(), two_class, "cpu")
    assert plain.accuracy == 1.0
    # The mirror's logits are the negation, so the average is (0, 0): a coin flip's loss.
    mirrored = evaluate(_LeftMinusRight(), two_class, "cpu", tta=True)
    assert plain.loss < 0.01 and mirrored.loss == pytest.approx(math.log(2), rel=1e-5)


def test_predict_gives_probabilities_in_dataset_order(data: Dataset) -> None:
    probabilities = predict(_Constant([0.0, math.log(3.0), 0.0, 0.0]), data, "cpu", batch_size=7)
    assert probabilities.shape == (40, 4)
    assert torch.allclose(probabilities[:, 1], torch.full((40,), 0.5))
    assert torch.allclose(probabilities.sum(1), torch.ones(40))
