"""Search under a parameter budget: Optuna (and Ray Tune) over the declarative spaces."""

from archbench.search._budget import Budget, Decision, decide, ensure_feasible
from archbench.search._optuna import make_pruner, make_sampler, suggest
from archbench.search._records import (
    OBJECTIVES,
    counts_by_status,
    is_trained,
    trained_count,
    trial_status,
)
from archbench.search._search import (
    SearchAborted,
    SearchSummary,
    default_study_name,
    prepare_study,
    run_search,
    run_worker,
    split_quota,
    summarize,
)
from archbench.search._settings import SearchSettings
from archbench.search._storage import (
    DEFAULT_STORAGE,
    list_study_names,
    normalize_storage_url,
    open_storage,
)

__all__ = [
    "Budget",
    "DEFAULT_STORAGE",
    "Decision",
    "OBJECTIVES",
    "SearchAborted",
    "SearchSettings",
    "SearchSummary",
    "counts_by_status",
    "decide",
    "default_study_name",
    "ensure_feasible",
    "is_trained",
    "list_study_names",
    "make_pruner",
    "make_sampler",
    "normalize_storage_url",
    "open_storage",
    "prepare_study",
    "run_search",
    "run_worker",
    "split_quota",
    "suggest",
    "summarize",
    "trained_count",
    "trial_status",
]
