"""The registry's errors, the rank ensemble and the seeded feasible pool."""

from __future__ import annotations

import pytest
import torch

from archbench.models import count_params, get_preset
from archbench.spaces import DataShape, get_space
from archbench.zerocost import (
    ZeroCostScore,
    get_score,
    mean_rank,
    register_score,
    resolve_scores,
    sample_feasible,
    score_config,
    score_configs,
)


def test_registry_refuses_duplicates_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_score(ZeroCostScore("snip", get_score("params").compute, False, "again"))
    with pytest.raises(ValueError, match="unknown zero-cost score 'snp'.*snip"):
        resolve_scores(["snp"])
    with pytest.raises(ValueError, match="chosen twice"):
        resolve_scores(["params", "params"])
    with pytest.raises(ValueError, match="score_configs"):
        score_config(get_preset("simple_cnn"), ["ensemble"])
    with pytest.raises(ValueError, match="needs data"):
        score_config(get_preset("simple_cnn"), ["snip"])


def random_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(4, 1, 8, 8, generator=generator), torch.tensor([0, 1, 2, 3])


def test_mean_rank_by_hand() -> None:
    rows = [
        {"a": 3.0, "b": 10.0},
        {"a": 1.0, "b": float("nan")},  # NaN ranks lowest
        {"a": 2.0, "b": 30.0},
        {"a": 2.0, "b": 20.0},
    ]
    # a ranks 4, 1, 2.5, 2.5; b ranks 2, 1, 4, 3
    assert mean_rank(rows, ["a", "b"]) == [3.0, 1.0, 3.25, 2.75]


def test_score_configs_ranks_the_ensemble_over_the_chosen_scores() -> None:
    cfgs = [
        get_preset(name).with_data(num_classes=10, in_channels=1, input_size=8)
        for name in ("simple_cnn", "quizdnn", "resnet20_cifar")
    ]
    rows = score_configs(cfgs, ["params", "synflow", "ensemble"])
    assert [list(row) for row in rows] == [["params", "synflow", "ensemble"]] * 3
    assert [row["params"] for row in rows] == [count_params(cfg) for cfg in cfgs]
    assert [row["ensemble"] for row in rows] == mean_rank(rows, ["params", "synflow"])
    # Alone, ensemble ranks every score; one config is rank 1 of 1.
    assert score_configs(cfgs[:1], ["ensemble"], batches=[random_batch()]) == [{"ensemble": 1.0}]


def test_sample_feasible_is_seeded_distinct_and_within_budget() -> None:
    space, shape = get_space("resnet"), DataShape(10, 1, 28)
    budget = 300_000

    def accept(cfg) -> bool:  # type: ignore[no-untyped-def]
        return count_params(cfg) <= budget

    pool = sample_feasible(space, 20, accept=accept, shape=shape, seed=4)
    assert len(pool) == 20
    assert len({str(c.params) for c in pool}) == 20
    assert all(count_params(c.config) <= budget and c.config.input_size == 28 for c in pool)
    assert [c.params for c in sample_feasible(space, 20, accept=accept, shape=shape, seed=4)] == [
        c.params for c in pool
    ]
    with pytest.raises(ValueError, match="distinct feasible configs"):
        sample_feasible(space, 1, accept=lambda cfg: False, shape=shape)
