"""Search under a parameter budget: Optuna (and Ray Tune) over the declarative spaces.

``run(settings, progress=...)`` is the entry point of a search, ``train_configs`` trains a given
pool of configs once each (``fidelity``), and ``TrialRecord`` reads a stored trial.
"""

from typing import TYPE_CHECKING

from archbench._lazy import lazy_exports

if TYPE_CHECKING:
    from archbench.search._budget import (
        Budget,
        Decision,
        decide,
        ensure_feasible,
    )
    from archbench.search._evaluate import TrialData
    from archbench.search._pool import PoolState, train_configs
    from archbench.search._prescreen import (
        PRESCREEN_ATTR,
        Prescreening,
        ScoredPool,
        feasible_pool,
    )
    from archbench.search._record import (
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
        SearchSummary,
        TrialCounts,
        quiet_optuna,
        run,
    )
    from archbench.search._samplers import (
        make_sampler,
        suggest,
    )
    from archbench.search._settings import (
        RaySettings,
        SearchSettings,
    )
    from archbench.search._status import (
        FAILED,
        HAS_TRAINED,
        PRUNED,
        REJECTED,
        STATUSES,
        TRAINED,
    )
    from archbench.search._storage import (
        list_study_names,
        normalize_storage_url,
        open_storage,
    )
    from archbench.search._study import (
        SearchAborted,
        data_shape,
        prepare_study,
        study_name,
    )
    from archbench.search._trial import (
        Runner,
        TrialOutcome,
    )

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "_budget": ("Budget", "Decision", "decide", "ensure_feasible"),
        "_samplers": ("make_sampler", "suggest"),
        "_pool": ("PoolState", "train_configs"),
        "_prescreen": ("PRESCREEN_ATTR", "Prescreening", "ScoredPool", "feasible_pool"),
        "_record": (
            "TrialRecord",
            "counts_by_status",
            "is_trained",
            "trained_count",
            "trial_status",
        ),
        "_run": (
            "BestTrial",
            "quiet_optuna",
            "Progress",
            "ProgressEvent",
            "SearchFinished",
            "SearchStarted",
            "SearchSummary",
            "TrialCounts",
            "run",
        ),
        "_study": (
            "SearchAborted",
            "data_shape",
            "study_name",
            "prepare_study",
        ),
        "_settings": ("RaySettings", "SearchSettings"),
        "_status": (
            "FAILED",
            "HAS_TRAINED",
            "PRUNED",
            "REJECTED",
            "STATUSES",
            "TRAINED",
        ),
        "_storage": (
            "list_study_names",
            "normalize_storage_url",
            "open_storage",
        ),
        "_evaluate": ("TrialData",),
        "_trial": ("Runner", "TrialOutcome"),
    },
)
