"""Scoring configs: one config into a dict of scores, a set of configs into a ranked table.

The library returns plain data, so the CLI, the search's prescreening and the fidelity report
share one path. Every config of a set is scored with the same seed and the same batches, so the
scores differ only by architecture.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from scipy.stats import rankdata

from archbench.data import Augment, Dataset, DeviceLoader
from archbench.models import ModelConfig
from archbench.zerocost._probe import Batch, Probe
from archbench.zerocost._registry import ENSEMBLE, get_score, list_scores, resolve_scores

# Images scored per config, halved into two batches of 16 for the gradient pass. Smaller than the
# papers' 64-128: scoring must cost under 1/50 of a proxy epoch (3,600 mnist5k images), and a
# 64-image pass alone is 1/56 of one. ``--batch-size`` trades cost for stability.
DEFAULT_BATCH_SIZE = 32
_NO_AUGMENT = Augment(crop_padding=0, flip=False, cutout=0)


def scoring_batches(
    data: Dataset,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    count: int = 1,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> list[Batch]:
    """``count`` seeded random batches of ``data``, normalized as for training, not augmented.

    Pass the training split of the search's data set: scores rank configs for that data.
    """
    if count < 1:
        raise ValueError(f"count: needs at least one batch, got {count}")
    loader = DeviceLoader(
        data, batch_size, device=device, train=True, augment=_NO_AUGMENT, seed=seed
    )
    return list(itertools.islice(loader, count))


def score_config(
    cfg: ModelConfig,
    scores: Iterable[str] | None = None,
    *,
    batches: Sequence[Batch] = (),
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """The chosen scores of one config at initialisation (``ensemble`` needs a set of configs).

    Args:
        cfg: the architecture, adapted to the data (``cfg.with_data``).
        scores: names from ``list_scores()``; None means every score but ``ensemble``.
        batches: ``scoring_batches(train_data)``; needed by the data-dependent scores only.
        seed: seeds the initial weights.
        device: where the model is built and run; the batches must live there too.

    Raises:
        ValueError: an unknown score, ``ensemble``, or batches that do not fit the config.
    """
    names = resolve_scores(scores) if scores is not None else _per_config(list_scores())
    if ENSEMBLE in names:
        raise ValueError("ensemble ranks a set of configs: use score_configs")
    _check_batches(cfg, batches)
    probe = Probe(cfg, batches, seed=seed, device=device)
    return {name: get_score(name).compute(probe) for name in names}


def score_configs(
    cfgs: Sequence[ModelConfig],
    scores: Iterable[str] | None = None,
    *,
    batches: Sequence[Batch] = (),
    seed: int = 0,
    device: str | torch.device = "cpu",
    on_scored: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """The chosen scores of every config, in order, with ``ensemble`` ranked across the set.

    Args:
        cfgs: the configs, all adapted to the same data.
        scores: names from ``list_scores()``; None means all, ``ensemble`` included.
        batches, seed, device: as for ``score_config``, shared by every config.
        on_scored: called with each config's index and scores as soon as it is scored.
    """
    names = resolve_scores(scores)
    members = ensemble_members(names)
    rows = []
    for index, cfg in enumerate(cfgs):
        row = score_config(cfg, members, batches=batches, seed=seed, device=device)
        rows.append(row)
        if on_scored is not None:
            on_scored(index, row)
    if ENSEMBLE in names:
        for row, value in zip(rows, mean_rank(rows, members)):
            row[ENSEMBLE] = value
    return [{name: row[name] for name in names} for row in rows]


def ensemble_members(names: Sequence[str]) -> list[str]:
    """The scores ``ensemble`` averages: the other chosen ones, or every score when it is alone."""
    others = _per_config(names)
    return others or _per_config(list_scores())


def needs_data(names: Sequence[str]) -> bool:
    """Whether scoring ``names`` reads batches of data (``ensemble`` through its members)."""
    return any(get_score(name).needs_data for name in ensemble_members(names))


def ranking_score(names: Sequence[str]) -> str:
    """The score that orders a scored set: ``ensemble`` when chosen, else the first name."""
    return ENSEMBLE if ENSEMBLE in names else names[0]


def best_first(rows: Sequence[dict[str, float]], score: str) -> list[int]:
    """Indices of ``rows`` from the highest ``score`` down; NaN last, ties in their order."""
    values = [row[score] for row in rows]
    return sorted(range(len(rows)), key=lambda i: np.inf if np.isnan(values[i]) else -values[i])


def mean_rank(rows: Sequence[dict[str, float]], names: Sequence[str]) -> list[float]:
    """Each row's mean rank over ``names``: 1 is the lowest value, ties share their mean rank.

    NaN ranks lowest, so a score that failed on one config does not lift it.
    """
    if not rows:
        return []
    ranks = []
    for name in names:
        values = np.array([row[name] for row in rows], dtype=float)
        ranks.append(rankdata(np.where(np.isnan(values), -np.inf, values)))
    return [float(value) for value in np.mean(ranks, axis=0)]


def _per_config(names: Iterable[str] | None) -> list[str]:
    chosen = list(names) if names is not None else list_scores()
    return [name for name in chosen if name != ENSEMBLE]


def _check_batches(cfg: ModelConfig, batches: Sequence[Batch]) -> None:
    expected = (cfg.in_channels, cfg.input_size, cfg.input_size)
    for images, labels in batches:
        if tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"batches: images of shape {tuple(images.shape[1:])} but the config expects "
                f"{expected}; adapt it with cfg.with_data(...)"
            )
        if len(labels) and int(labels.max()) >= cfg.num_classes:
            raise ValueError(
                f"batches: label {int(labels.max())} but the config has {cfg.num_classes} classes"
            )
