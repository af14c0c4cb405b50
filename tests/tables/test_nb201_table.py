"""The NAS-Bench-201 table that ships in the package: complete, right figures, clear errors."""

from __future__ import annotations

from importlib import resources

import pytest

from archbench.tables import NB201_DATASETS, check_benchmark, nb201_accuracies, nb201_accuracy

BEST_RESNET_LIKE = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
)


@pytest.mark.parametrize("dataset", list(NB201_DATASETS))
def test_every_data_set_holds_the_15625_archs(dataset: str) -> None:
    accuracies = nb201_accuracies(dataset)
    assert len(accuracies) == 15_625
    assert all(0.0 < value < 100.0 for value in accuracies.values())


def test_the_cifar10_figures_are_the_published_ones() -> None:
    accuracies = nb201_accuracies("cifar10")
    assert max(accuracies.values()) == pytest.approx(94.37, abs=0.005)
    assert sum(accuracies.values()) / len(accuracies) == pytest.approx(87.06, abs=0.005)
    assert nb201_accuracy(BEST_RESNET_LIKE, "cifar100") == pytest.approx(70.2933)


def test_the_table_ships_with_its_notice() -> None:
    notice = resources.files("archbench.tables").joinpath("NOTICE").read_text()
    assert "NATS-Bench" in notice and "MIT" in notice


def test_bad_lookups_say_what_is_wrong_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"--benchmark nb201 holds cifar10, cifar100"):
        check_benchmark("nb201", "mnist5k")
    with pytest.raises(ValueError, match="benchmark: 'nb101' is unknown"):
        check_benchmark("nb101", "cifar10")
    with pytest.raises(ValueError, match="not one of NAS-Bench-201"):
        nb201_accuracy("|none~0|", "cifar10")
