"""How well one ranking of configs predicts another: rank correlations, bootstrap intervals,
top-k recall and where the cheap ranking's pick lands.

Every figure is computed from the two value lists alone, so a reader can recompute it from the
``configs`` of ``archbench fidelity --json``. Higher is better in both lists; a config missing
from either list (a failed training) is left out of that comparison.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

TOP_FRACTION = 0.2  # top-k recall compares the best 20% of each ranking
BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95
# Below this many configs a bootstrap interval is not reported: resamples of 4 configs draw the
# same few configs again and again, and 4 configs ranked alike gave tau's 95% CI as [+1, +1].
MIN_INTERVAL_CONFIGS = 10

Statistic = Callable[[np.ndarray, np.ndarray], float]


def kendall_tau(cheap: np.ndarray, reference: np.ndarray) -> float:
    """Kendall's tau-b (ties counted as in scipy's default); NaN when a list is constant."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.kendalltau(cheap, reference).statistic)


def spearman(cheap: np.ndarray, reference: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.spearmanr(cheap, reference).statistic)


def top_k(count: int) -> int:
    """How many configs form the top ``TOP_FRACTION`` of ``count``: at least one."""
    return max(1, math.floor(count * TOP_FRACTION + 0.5))


def best_first(values: np.ndarray) -> np.ndarray:
    """Indices from the highest value down; equal values keep their order in the list."""
    return np.argsort(-values, kind="stable")


def top_k_recall(cheap: np.ndarray, reference: np.ndarray, k: int) -> float:
    """The share of the reference's top ``k`` configs found in the cheap ranking's top ``k``."""
    found = set(best_first(cheap)[:k].tolist()) & set(best_first(reference)[:k].tolist())
    return len(found) / k


def top_pick_reference_rank(cheap: np.ndarray, reference: np.ndarray) -> int:
    """The reference rank (1 = best; ties share the best rank) of the cheap ranking's top pick."""
    pick = int(best_first(cheap)[0])
    return 1 + int(np.sum(reference > reference[pick]))


def bootstrap_interval(
    cheap: np.ndarray,
    reference: np.ndarray,
    statistic: Statistic,
    *,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> tuple[float, float] | None:
    """The 95% percentile interval of ``statistic`` over paired resamples of the configs.

    Paired: each resample draws configs with replacement and keeps both of their values. A
    resample whose statistic is undefined (all its draws tie) is skipped; scipy's ``bootstrap``
    would turn the whole interval into NaN instead. None when no resample is defined.
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(cheap), size=(resamples, len(cheap)))
    values = np.array([statistic(cheap[d], reference[d]) for d in draws])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class RankingFit:
    """How one cheap ranking predicts the reference, over the ``n`` configs both have."""

    n: int
    kendall_tau: float | None
    spearman: float | None
    ci95: tuple[float, float] | None  # of kendall_tau
    spearman_ci95: tuple[float, float] | None
    top_k: int
    top_k_recall: float
    top_pick_reference_rank: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired(
    cheap: Sequence[float | None], reference: Sequence[float | None]
) -> tuple[np.ndarray, np.ndarray]:
    """The two lists restricted to the configs with a finite value in both."""
    keep = [
        i
        for i, (a, b) in enumerate(zip(cheap, reference, strict=True))
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)
    ]
    return (
        np.array([cheap[i] for i in keep], dtype=float),
        np.array([reference[i] for i in keep], dtype=float),
    )


def compare(
    cheap: Sequence[float | None],
    reference: Sequence[float | None],
    *,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> RankingFit | None:
    """Every figure of one cheap ranking against the reference; None under two common configs.

    The intervals are None under ``MIN_INTERVAL_CONFIGS`` common configs, where a bootstrap
    has too few configs to resample to mean anything.
    """
    x, y = paired(cheap, reference)
    if len(x) < 2:
        return None
    k = top_k(len(x))
    enough = len(x) >= MIN_INTERVAL_CONFIGS
    return RankingFit(
        n=len(x),
        kendall_tau=_finite(kendall_tau(x, y)),
        spearman=_finite(spearman(x, y)),
        ci95=bootstrap_interval(x, y, kendall_tau, seed=seed, resamples=resamples)
        if enough
        else None,
        spearman_ci95=bootstrap_interval(x, y, spearman, seed=seed, resamples=resamples)
        if enough
        else None,
        top_k=k,
        top_k_recall=top_k_recall(x, y, k),
        top_pick_reference_rank=top_pick_reference_rank(x, y),
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
