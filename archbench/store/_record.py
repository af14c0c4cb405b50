"""The trial record: the one place that names the user attrs archbench stores with a trial.

The storage is the one source of truth (DESIGN.md, decision 8): the leaderboard, the report and
the export read only what is written here, whichever backend ran the search, and both backends
write the same attrs for the same trial. The attrs are listed in docs/CONTRACTS.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from archbench.store._owner import Owner
from archbench.store._status import FAILED, HAS_TRAINED, PRUNED, REJECTED, RUNNING, TRAINED

if TYPE_CHECKING:
    from archbench.budget import Decision

QUOTA_REACHED = "quota reached"
NOTHING_ENQUEUED = "no enqueued config left"  # a proposal of a run of enqueued configs only

OBJECTIVES: dict[str, Literal["minimize", "maximize"]] = {
    "accuracy": "maximize",
    "params": "minimize",
    "latency": "minimize",
    "throughput": "maximize",
}

# Trial user attrs. Nothing outside this module spells them.
STATUS = "status"  # TRAINED | REJECTED | PRUNED | FAILED once the trial ended
REASON = "reason"  # why rejected, pruned or failed: one line
CONFIG = "config"  # the effective ModelConfig dict
SAMPLED_CONFIG = "sampled_config"  # the sampled config, when --fit-budget shrank it
N_PARAMS = "n_params"  # exact parameter count of CONFIG
METRICS = "metrics"  # per-epoch metric dicts
VAL_ACCURACY = "val_accuracy"  # best validation accuracy, fraction
EPOCHS_TRAINED = "epochs_trained"
BENCHMARK = "benchmark"  # {name, dataset}: the table VAL_ACCURACY was looked up in (--benchmark)
PROFILE = "profile"  # ProfileResult.to_dict(), absent with --profile none
BASELINE = "baseline"  # preset name of an enqueued --baseline trial
POOL_INDEX = "pool_index"  # index of an enqueued config in the pool of `archbench fidelity`
OWNER = "owner"  # {host, pid, started, trial, claimed}: the process that runs the trial
HOST = "host"  # the machine the trial trained on
RAY_NODE_ID = "ray_node_id"  # the Ray node it trained on (Ray backend only)
RAY_TRIAL_ID = "ray_trial_id"  # the Ray trial (Ray backend only)
# {score, value, rank}: the zero-cost score of a --prescreen trial and its rank in the pool
ZERO_COST = "zero_cost"
# What running a trial writes, as against what it was enqueued with (BASELINE, POOL_INDEX,
# ZERO_COST): a retried config keeps only the latter, not its predecessor's record.
RUN_ATTRS = frozenset(
    {OWNER, STATUS, REASON, CONFIG, SAMPLED_CONFIG, N_PARAMS, METRICS, VAL_ACCURACY,
     EPOCHS_TRAINED, BENCHMARK, PROFILE, HOST, RAY_NODE_ID, RAY_TRIAL_ID}
)  # fmt: skip


@dataclass(frozen=True)
class Placement:
    """Where a trial trained: the host, and on Ray the node."""

    host: str
    ray_node_id: str | None = None


def owner_of(trial: FrozenTrial) -> Owner | None:
    """The owner written for this very trial, or None."""
    return Owner.read(trial.user_attrs.get(OWNER), trial.number)


def decision_attrs(decision: Decision) -> dict[str, Any]:
    """The budget decision: what would be built and its exact size."""
    attrs: dict[str, Any] = {CONFIG: decision.config.to_dict(), N_PARAMS: decision.n_params}
    if decision.sampled_config != decision.config:
        attrs[SAMPLED_CONFIG] = decision.sampled_config.to_dict()
    return attrs


def result_attrs(
    *,
    metrics: list[dict[str, float]],
    val_accuracy: float | None,
    profile: dict[str, Any] | None,
    placement: Placement | None,
    epochs_trained: int | None = None,
    benchmark: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What training, or a table lookup, produced. ``epochs_trained`` defaults to one per
    metrics row."""
    attrs: dict[str, Any] = {}
    if metrics:
        attrs[METRICS] = metrics
        attrs[VAL_ACCURACY] = val_accuracy
        attrs[EPOCHS_TRAINED] = epochs_trained or len(metrics)
    if benchmark is not None:
        attrs[BENCHMARK] = benchmark
    if profile is not None:
        attrs[PROFILE] = profile
    if placement is not None:
        attrs[HOST] = placement.host
        if placement.ray_node_id is not None:
            attrs[RAY_NODE_ID] = placement.ray_node_id
    return attrs


def zero_cost_attrs(score: str, value: float, rank: int) -> dict[str, Any]:
    """The user attrs of a trial that prescreening enqueued: its score and rank in the pool."""
    return {ZERO_COST: {"score": score, "value": value, "rank": rank}}


def status_attrs(status: str, reason: str | None = None) -> dict[str, Any]:
    return {STATUS: status} if reason is None else {STATUS: status, REASON: reason}


def trial_status(trial: FrozenTrial) -> str:
    """archbench's view of a trial: trained, rejected, pruned, failed or running."""
    status = trial.user_attrs.get(STATUS)
    if trial.state == TrialState.RUNNING or trial.state == TrialState.WAITING:
        return RUNNING
    if trial.state == TrialState.FAIL:
        return FAILED
    if status in (TRAINED, REJECTED, PRUNED, FAILED):
        return str(status)
    return PRUNED if trial.state == TrialState.PRUNED else TRAINED


def counts_by_status(study: optuna.Study) -> Counter[str]:
    trials = study.get_trials(deepcopy=False)
    return Counter(trial_status(t) for t in trials)


def is_rejected(trial: FrozenTrial) -> bool:
    """Rejected by the budget (a positive constraint) or by a full quota (its status).

    A ``quota reached`` trial satisfies every constraint, but it never trained: left in, a
    sampler would rank its config below every trained one.
    """
    return trial.user_attrs.get(STATUS) == REJECTED or any(
        value > 0 for value in trial.constraints.values()
    )


def is_trained(trial: FrozenTrial) -> bool:
    return trial_status(trial) in HAS_TRAINED


@dataclass(frozen=True)
class TrialRecord:
    """One stored trial as archbench reads it back; a missing attr is None."""

    number: int
    status: str
    reason: str | None
    config: dict[str, Any] | None
    sampled_config: dict[str, Any] | None
    n_params: int | None
    flops: int | None  # forward FLOPs per image, from the profile
    macs: int | None
    metrics: tuple[dict[str, float], ...]
    val_accuracy: float | None
    epochs_trained: int | None
    profile: dict[str, Any] | None
    baseline: str | None
    owner: Owner | None
    host: str | None
    ray_node_id: str | None
    ray_trial_id: str | None
    zero_cost: dict[str, Any] | None = None  # {score, value, rank} of a prescreened trial
    benchmark: dict[str, str] | None = None  # {name, dataset} of a --benchmark lookup

    @classmethod
    def read(cls, trial: FrozenTrial) -> TrialRecord:
        attrs = trial.user_attrs
        profile = attrs.get(PROFILE)
        measured = profile if isinstance(profile, Mapping) else {}
        return cls(
            number=trial.number,
            status=trial_status(trial),
            reason=attrs.get(REASON),
            config=attrs.get(CONFIG),
            sampled_config=attrs.get(SAMPLED_CONFIG),
            n_params=attrs.get(N_PARAMS),
            flops=measured.get("flops"),
            macs=measured.get("macs"),
            metrics=tuple(attrs.get(METRICS) or ()),
            val_accuracy=attrs.get(VAL_ACCURACY),
            epochs_trained=attrs.get(EPOCHS_TRAINED),
            profile=dict(profile) if isinstance(profile, Mapping) else None,
            baseline=attrs.get(BASELINE),
            owner=owner_of(trial),
            host=attrs.get(HOST),
            ray_node_id=attrs.get(RAY_NODE_ID),
            ray_trial_id=attrs.get(RAY_TRIAL_ID),
            zero_cost=dict(zc) if isinstance(zc := attrs.get(ZERO_COST), Mapping) else None,
            benchmark=dict(bm) if isinstance(bm := attrs.get(BENCHMARK), Mapping) else None,
        )
