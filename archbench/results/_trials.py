"""Reading a search back from its Optuna storage: studies, and one flat row per trial.

The storage is the one source of truth (docs/DESIGN.md, decision 8). Everything in
``results/`` reads the trial records described in docs/CONTRACTS.md through ``read_trials`` so
that a record written by an older search, by the Ray backend, or without a profile
(``--profile none``) shows as a missing figure rather than an error. The profile dict is read as
plain data: ``results/`` never imports ``hwprofile``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from archbench.store import (
    TRAINED,
    SearchSpec,
    TrialRecord,
    list_study_names,
    normalize_storage_url,
    open_storage,
)


@dataclass(frozen=True)
class TrialRow:
    """One trial as the leaderboard, the export and the report see it.

    Figures that the record does not hold (no profile, a rejected config that never trained)
    are ``None``, never 0, so that a table shows "-" instead of a cost that was not measured.

    Attributes:
        number: Optuna's trial number.
        status: ``trained``, ``pruned``, ``rejected``, ``failed`` or ``running``.
        val_accuracy: best validation accuracy of the proxy training (fraction).
        n_params: exact parameter count of the effective config.
        flops: forward FLOPs per image, from the profile (or an older record).
        macs: forward multiply-adds per image.
        latency_ms: batch-1 inference latency, median.
        infer_images_per_second: inference throughput at the profile's batch size.
        train_images_per_second: training throughput at the profile's batch size.
        peak_train_memory_bytes: measured peak tensor memory of a training step.
        predicted_max_batch_size: largest training batch predicted to fit the profile's memory.
        shared_device: the latency, throughput and memory figures were measured on a GPU that
            other trials used at the same time (docs/CONTRACTS.md, profile ``shared_device``).
        noisy: timing field (``latency_ms``, ``infer_images_per_second``,
            ``train_images_per_second``) -> why it is noise rather than fact (the profile's
            ``noisy``: blocks that disagree, too few of them, or a busy machine).
        epochs_trained: proxy epochs the trial trained.
        values: the trial's objective values in study order (complete trials only).
        feasible: every stored constraint (budget limits) is satisfied.
        pareto: on the study's feasible Pareto front (``study.best_trials``); for a
            single-objective study, the best trial.
        reason: why the trial was rejected, pruned or failed.
        baseline: the preset name of an enqueued baseline trial.
        zero_cost_score: the ``--prescreen`` score of a prescreened trial.
        zero_cost_rank: its rank in the prescreened pool (1 is the best score).
        params: the sampled search-space params.
        config: the effective model config dict.
        metrics: per-epoch metric dicts of the proxy training.
        profile: the stored hardware profile (``ProfileResult.to_dict()``).
    """

    number: int
    status: str
    val_accuracy: float | None = None
    n_params: int | None = None
    flops: int | None = None
    macs: int | None = None
    latency_ms: float | None = None
    infer_images_per_second: float | None = None
    train_images_per_second: float | None = None
    peak_train_memory_bytes: int | None = None
    predicted_max_batch_size: int | None = None
    shared_device: bool = False
    noisy: dict[str, str] = field(default_factory=dict)
    epochs_trained: int | None = None
    values: tuple[float, ...] | None = None
    feasible: bool = True
    pareto: bool = False
    reason: str | None = None
    baseline: str | None = None
    zero_cost_score: float | None = None
    zero_cost_rank: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    metrics: tuple[dict[str, float], ...] = ()
    profile: dict[str, Any] | None = None

    @property
    def has_accuracy(self) -> bool:
        return self.val_accuracy is not None

    def summary(self) -> dict[str, Any]:
        """The flat, scalar fields: one CSV line, or one JSON leaderboard entry without blobs."""
        flat = {name: getattr(self, name) for name in SUMMARY_FIELDS if name != "noisy"}
        return flat | {"noisy": describe_noise(self.noisy)}


SUMMARY_FIELDS = (
    "number",
    "status",
    "val_accuracy",
    "n_params",
    "flops",
    "macs",
    "latency_ms",
    "infer_images_per_second",
    "train_images_per_second",
    "peak_train_memory_bytes",
    "predicted_max_batch_size",
    "shared_device",
    "noisy",
    "epochs_trained",
    "feasible",
    "pareto",
    "reason",
    "baseline",
    "zero_cost_score",
    "zero_cost_rank",
)


# A rejection's stored reason (budget.py, evaluators/_protocol.py) -> its short form and kind.
_REJECTIONS = (
    (re.compile(r"(\S+) params over the budget of (\S+)"), "params {0} > {1}", "params"),
    (re.compile(r"(\S+) FLOPs over the cap of (\S+)"), "FLOPs {0} > {1}", "FLOPs"),
    (
        re.compile(r"predicted max training batch (\d+) on (.+?) is below (\d+)"),
        "max batch {0} < {2} on {1}",
        "min batch",
    ),
    (re.compile(r"latency (\S+) ms over the cap of (\S+) ms"), "latency {0} > {1} ms", "latency"),
)
SHORT_REASON_CHARS = 60


def short_reason(reason: str | None) -> str:
    """One table cell: ``params 1.07M > 1M`` for a budget rejection, else the reason's first
    line cut to ``SHORT_REASON_CHARS`` (the whole reason is in ``--json``)."""
    if not reason:
        return ""
    for pattern, short, _ in _REJECTIONS:
        match = pattern.search(reason)
        if match:
            return short.format(*match.groups())
    line = reason.strip().splitlines()[0] if reason.strip() else ""
    return line if len(line) <= SHORT_REASON_CHARS else line[: SHORT_REASON_CHARS - 1] + "…"


def rejection_kind(reason: str | None) -> str:
    """Which budget a rejection broke: ``params``, ``FLOPs``, ``min batch``, ``latency``, or
    ``other``."""
    for pattern, _, kind in _REJECTIONS:
        if reason and pattern.search(reason):
            return kind
    return "other"


# The profile's timing names -> the TrialRow field that holds the figure.
NOISY_FIELDS = {
    "latency_ms_median": "latency_ms",
    "infer_images_per_second": "infer_images_per_second",
    "train_images_per_second": "train_images_per_second",
}


def describe_noise(noisy: dict[str, str]) -> str | None:
    """``latency_ms: IQR 34% of the median; ...`` for a CSV cell, None when nothing is noisy."""
    return "; ".join(f"{name}: {why}" for name, why in noisy.items()) or None


def load_study(storage: str | None, study: str | None) -> optuna.Study:
    """The study named ``study``, or the only study of the storage when ``study`` is None.

    Raises:
        ValueError: when the storage or the study does not exist, or when several studies
            exist and none was named; the message lists the studies of the storage.
    """
    backend = open_storage(storage, create=False)
    names = list_study_names(backend)
    url = normalize_storage_url(storage)
    if not names:
        raise ValueError(f"study: {url} holds no studies; run `archbench search` first")
    if study is None and len(names) > 1:
        raise ValueError(f"study: {url} holds several; pass --study NAME ({', '.join(names)})")
    study = study or names[0]
    if study not in names:
        raise ValueError(f"study: no study {study!r} in {url}; studies: {', '.join(names)}")
    return optuna.load_study(study_name=study, storage=backend)


def objectives_of(study: optuna.Study) -> tuple[str, ...]:
    """The objective names in study order, as the search stored them."""
    stored = SearchSpec.read(study.user_attrs).objectives
    if stored:
        return tuple(stored)
    return tuple(f"objective{i}" for i in range(len(study.directions)))


def read_trials(study: optuna.Study) -> list[TrialRow]:
    """Every trial of ``study`` as a ``TrialRow``, in trial-number order."""
    trials = study.get_trials(deepcopy=False)
    front = {t.number for t in study.best_trials}
    return [_row(trial, trial.number in front) for trial in trials]


def _row(trial: FrozenTrial, pareto: bool) -> TrialRow:
    record = TrialRecord.read(trial)
    measured = record.profile or {}
    zero_cost = record.zero_cost or {}
    accuracy = record.val_accuracy
    if accuracy is None and record.status == TRAINED and trial.state == TrialState.COMPLETE:
        accuracy = trial.values[0]  # a record without the attribute (e.g. an older search)
    return TrialRow(
        number=trial.number,
        status=record.status,
        val_accuracy=_number(accuracy),
        n_params=_integer(
            record.n_params if record.n_params is not None else measured.get("n_params")
        ),
        flops=_integer(record.flops),
        macs=_integer(record.macs),
        latency_ms=_number(measured.get("latency_ms_median")),
        infer_images_per_second=_number(measured.get("infer_images_per_second")),
        train_images_per_second=_number(measured.get("train_images_per_second")),
        peak_train_memory_bytes=_integer(measured.get("peak_train_memory_bytes")),
        predicted_max_batch_size=_integer(measured.get("predicted_max_batch_size")),
        shared_device=measured.get("shared_device") is True,
        noisy=_noisy(measured.get("noisy")),
        epochs_trained=_integer(record.epochs_trained),
        values=tuple(trial.values) if trial.values is not None else None,
        feasible=all(value <= 0.0 for value in trial.constraints.values()),
        pareto=pareto,
        reason=record.reason,
        baseline=record.baseline,
        zero_cost_score=_number(zero_cost.get("value")),
        zero_cost_rank=_integer(zero_cost.get("rank")),
        params=dict(trial.params),
        config=record.config,
        metrics=record.metrics,
        profile=record.profile,
    )


def _noisy(stored: Any) -> dict[str, str]:
    if not isinstance(stored, dict):
        return {}
    return {NOISY_FIELDS[name]: str(why) for name, why in stored.items() if name in NOISY_FIELDS}


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None
