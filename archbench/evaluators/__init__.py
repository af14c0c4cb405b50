"""Evaluators: what turns an accepted config into the outcome its trial records.

A search's trial body (the Optuna objective, the Ray trainable) calls an ``Evaluator`` through a
``TrialRunner`` and does not know which one it has. ``ProxyTraining`` profiles and trains the
config on a data set; ``TableLookup`` reads the accuracy a benchmark table holds for it. Neither
knows the search: each is made from plain values (``archbench.search.TrialContext.evaluator``),
so a benchmark or a test can make its own.
"""

from archbench.evaluators._protocol import (
    Evaluator,
    LatencyRejection,
    OnProfile,
    Report,
    ShouldStop,
    TrialError,
    TrialOutcome,
    describe_failure,
    free_accelerator_memory,
)
from archbench.evaluators._proxy import ProxyTraining, TrialData
from archbench.evaluators._runner import TrialRunner
from archbench.evaluators._table import TableLookup

__all__ = [
    "Evaluator",
    "LatencyRejection",
    "OnProfile",
    "ProxyTraining",
    "Report",
    "ShouldStop",
    "TableLookup",
    "TrialData",
    "TrialError",
    "TrialOutcome",
    "TrialRunner",
    "describe_failure",
    "free_accelerator_memory",
]
