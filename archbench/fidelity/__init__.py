"""Fidelity: how well a cheap ranking of configs (a short proxy training, a zero-cost score,
the size) predicts the ranking after reference training, on the user's own space and data.

``run_fidelity(settings)`` draws K feasible configs, scores them, and trains them at every proxy
setting and at the reference budget, each setting a study in the Optuna storage (so a rerun
resumes); ``document(run)`` turns the measurements into the ``--json`` contract. How to read the
figures: ``docs/fidelity.md``.
"""

from archbench.fidelity._plan import FidelitySettings, Training, proxy_label, reference_label
from archbench.fidelity._report import document, reference_accuracy, write_report
from archbench.fidelity._run import (
    FidelityEvent,
    FidelityProgress,
    FidelityRun,
    FidelityStarted,
    Scoring,
    Trainings,
    run_fidelity,
)
from archbench.fidelity._stats import (
    TOP_FRACTION,
    RankingFit,
    compare,
    kendall_tau,
    spearman,
    top_k,
    top_k_recall,
    top_pick_reference_rank,
)

__all__ = [
    "FidelityEvent",
    "FidelityProgress",
    "FidelityRun",
    "FidelitySettings",
    "FidelityStarted",
    "RankingFit",
    "Scoring",
    "TOP_FRACTION",
    "Training",
    "Trainings",
    "compare",
    "document",
    "kendall_tau",
    "proxy_label",
    "reference_accuracy",
    "reference_label",
    "run_fidelity",
    "spearman",
    "top_k",
    "top_k_recall",
    "top_pick_reference_rank",
    "write_report",
]
