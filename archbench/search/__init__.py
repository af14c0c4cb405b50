"""Search under a parameter budget: Optuna (and Ray Tune) over the declarative spaces.

``run(settings, progress=...)`` is the one entry point; ``TrialRecord`` reads a stored trial.
"""

from archbench.search._budget import Budget, Decision, decide, ensure_feasible
from archbench.search._optuna import make_pruner, make_sampler, suggest
from archbench.search._prescreen import PRESCREEN_ATTR, Prescreening, ScoredPool, feasible_pool
from archbench.search._record import (
    FAILED,
    OBJECTIVES,
    PRUNED,
    QUOTA_REACHED,
    REJECTED,
    RUNNING,
    STATUSES,
    TRAINED,
    Owner,
    Placement,
    TrialRecord,
    counts_by_status,
    is_trained,
    trained_count,
    trial_status,
)
from archbench.search._run import (
    BestTrial,
    Progress,
    ProgressEvent,
    SearchFinished,
    SearchStarted,
    TrialCounts,
    run,
)
from archbench.search._search import (
    SearchAborted,
    SearchSummary,
    default_study_name,
    prepare_study,
    summarize,
)
from archbench.search._settings import RaySettings, SearchSettings
from archbench.search._storage import (
    DEFAULT_STORAGE,
    list_study_names,
    normalize_storage_url,
    open_storage,
)
from archbench.search._trial import Runner, TrialOutcome

__all__ = [
    "BestTrial",
    "Budget",
    "DEFAULT_STORAGE",
    "Decision",
    "FAILED",
    "OBJECTIVES",
    "Owner",
    "PRESCREEN_ATTR",
    "PRUNED",
    "Prescreening",
    "Placement",
    "Progress",
    "ProgressEvent",
    "QUOTA_REACHED",
    "REJECTED",
    "RUNNING",
    "RaySettings",
    "Runner",
    "STATUSES",
    "ScoredPool",
    "SearchAborted",
    "SearchFinished",
    "SearchSettings",
    "SearchStarted",
    "SearchSummary",
    "TRAINED",
    "TrialCounts",
    "TrialOutcome",
    "TrialRecord",
    "counts_by_status",
    "decide",
    "default_study_name",
    "ensure_feasible",
    "feasible_pool",
    "is_trained",
    "list_study_names",
    "make_pruner",
    "make_sampler",
    "normalize_storage_url",
    "open_storage",
    "prepare_study",
    "run",
    "suggest",
    "summarize",
    "trained_count",
    "trial_status",
]
