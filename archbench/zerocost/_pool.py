"""Seeded feasible samples of a space: the pool a prescreen or a fidelity run scores.

Every draw is counted before anything is built (``count_params`` is pure Python), so thousands of
draws take a fraction of a second; only the configs that ``accept`` lets through are kept.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archbench.budget import Budget, decide
from archbench.models import ModelConfig
from archbench.spaces import DataShape, SearchSpace

DRAWS_PER_SAMPLE = 200  # give up after this many draws per wanted sample


@dataclass(frozen=True)
class Candidate:
    """One feasible draw: the space's params and the config they decode to."""

    params: dict[str, Any]
    config: ModelConfig


def sample_feasible(
    space: SearchSpace,
    count: int,
    *,
    accept: Callable[[ModelConfig], bool],
    shape: DataShape | None = None,
    seed: int = 0,
) -> list[Candidate]:
    """``count`` distinct configs of ``space`` that ``accept`` lets through, drawn with ``seed``.

    Args:
        space: the search space.
        count: how many distinct feasible configs to return.
        accept: the budget check, e.g. ``lambda cfg: count_params(cfg) <= 5_000_000``; it should
            count before it builds anything.
        shape: the data set's shape (stem and classifier depend on it).
        seed: the same seed gives the same configs in the same order.

    Raises:
        ValueError: fewer than ``count`` distinct feasible configs turned up in
            ``DRAWS_PER_SAMPLE * count`` draws.
    """
    if count < 1:
        raise ValueError(f"samples: must be at least 1, got {count}")
    rng = random.Random(seed)
    found: dict[str, Candidate] = {}
    draws = DRAWS_PER_SAMPLE * count
    for _ in range(draws):
        params = space.sample(rng)
        key = json.dumps(params, sort_keys=True, default=str)
        if key in found:
            continue
        cfg = space.to_config(params, shape)
        if accept(cfg):
            found[key] = Candidate(params, cfg)
            if len(found) == count:
                return list(found.values())
    raise ValueError(
        f"samples: only {len(found)} distinct feasible configs of space {space.name!r} in "
        f"{draws} draws; relax the budget or ask for fewer"
    )


def feasible_pool(
    space: SearchSpace, budget: Budget, shape: DataShape, count: int, seed: int
) -> list[Candidate]:
    """``count`` distinct seeded configs of ``space`` that a trial's budget check accepts.

    Raises:
        ValueError: too few feasible configs turn up (``sample_feasible``).
    """
    return sample_feasible(
        space, count, accept=lambda cfg: not decide(cfg, budget).rejected, shape=shape, seed=seed
    )
