"""Zero-cost scores: rank architectures at initialisation, from one batch, in well under a second.

``score_config`` scores one config; ``score_configs`` scores a set and ranks the ``ensemble``
across it; ``feasible_pool`` draws the configs within a budget to score. The scores, their papers,
formulas and batch-norm handling are in ``docs/zerocost.md``.
"""

from archbench.zerocost import _scores  # noqa: F401  (registers the built-in scores)
from archbench.zerocost._pool import Candidate, feasible_pool, sample_feasible
from archbench.zerocost._probe import Batch, Probe
from archbench.zerocost._registry import (
    ENSEMBLE,
    ZeroCostScore,
    get_score,
    list_scores,
    register_score,
    resolve_scores,
)
from archbench.zerocost._score import (
    DEFAULT_BATCH_SIZE,
    best_first,
    ensemble_members,
    mean_rank,
    needs_data,
    ranking_score,
    score_config,
    score_configs,
    scoring_batches,
)

__all__ = [
    "Batch",
    "Candidate",
    "DEFAULT_BATCH_SIZE",
    "ENSEMBLE",
    "Probe",
    "ZeroCostScore",
    "best_first",
    "ensemble_members",
    "feasible_pool",
    "get_score",
    "list_scores",
    "mean_rank",
    "needs_data",
    "ranking_score",
    "register_score",
    "resolve_scores",
    "sample_feasible",
    "score_config",
    "score_configs",
    "scoring_batches",
]
