"""The leaderboard of a study, and the overview of every study in a storage.

One ordering serves the table, the JSON and CSV output, the export (``--top K`` exports the first
K trained rows) and the report: trials that trained to the end first, then trials the pruner
stopped (their accuracy comes from fewer epochs, so it is not comparable), then running,
rejected and failed trials. A multi-objective study lists its feasible Pareto set first, as
Optuna's ``study.best_trials`` defines it, because no single column ranks such a study.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from archbench.results._columns import COLUMNS, SORT_FIELDS, format_value
from archbench.results._trials import (
    SUMMARY_FIELDS,
    TrialRow,
    objectives_of,
    read_trials,
    short_reason,
)
from archbench.store import STATUSES, TRAINED, SearchSpec, list_study_names, open_storage

# Shown even when empty: they say what happened to each trial.
ALWAYS_SHOWN = ("rank", "trial", "val accuracy", "params", "epochs", "state")


@dataclass(frozen=True)
class RankedTrial:
    """A leaderboard line: the trial and its rank among the trials that have an accuracy."""

    rank: int | None
    trial: TrialRow

    def summary(self) -> dict[str, Any]:
        return {"rank": self.rank, **self.trial.summary()}

    def cells(self, *, mark_pareto: bool = False) -> dict[str, str]:
        """The ``COLUMNS`` of this line as text; ``*`` marks the Pareto set when asked, ``~`` a
        noisy timing."""
        values = self.summary()
        cells = {header: format_value(field, values[field]) for header, field in COLUMNS.items()}
        trial = self.trial
        for header, field in COLUMNS.items():
            if field in trial.noisy and cells[header] != "-":
                cells[header] = f"~{cells[header]}"
        cells["trial"] = f"{'*' if mark_pareto and trial.pareto else ''}{trial.number}" + (
            f" {trial.baseline}" if trial.baseline else ""
        )
        cells["reason"] = short_reason(trial.reason) if trial.status != TRAINED else ""
        return cells

    def to_dict(self) -> dict[str, Any]:
        trial = self.trial
        return {
            **self.summary(),
            "values": list(trial.values) if trial.values is not None else None,
            "search_params": trial.params,
            "config": trial.config,
        }


@dataclass(frozen=True)
class Leaderboard:
    """The ranked trials of one study, after the ``state`` filter and the ``top`` cut."""

    study: str
    objectives: tuple[str, ...]
    max_params: int | None
    counts: dict[str, int]
    sort: str
    state: str | None
    entries: list[RankedTrial]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def noisy_trials(self) -> list[int]:
        """Trials with a timing that is noise rather than fact (``TrialRow.noisy``)."""
        return [entry.trial.number for entry in self.entries if entry.trial.noisy]

    @property
    def shared_device_trials(self) -> list[int]:
        """Trials whose latency, throughput and memory were measured on a shared GPU."""
        return [entry.trial.number for entry in self.entries if entry.trial.shared_device]

    def measured_columns(self) -> list[str]:
        """The ``COLUMNS`` worth a table: a cost no line measured (no profile) is left out."""
        lines = [entry.summary() for entry in self.entries]
        return [
            header
            for header, field in COLUMNS.items()
            if header in ALWAYS_SHOWN or any(line[field] not in (None, "") for line in lines)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "objectives": list(self.objectives),
            "max_params": self.max_params,
            "counts": self.counts,
            "sort": self.sort,
            "state": self.state,
            "trials": [entry.to_dict() for entry in self.entries],
        }


def rank_trials(
    rows: list[TrialRow], *, multi_objective: bool, sort: str | None = None
) -> list[RankedTrial]:
    """Orders ``rows`` into leaderboard order and ranks the ones with an accuracy.

    Args:
        multi_objective: put the Pareto set first when sorting by accuracy; another ``sort``
            asks for one column.
        sort: a ``SORT_FIELDS`` name; ``None`` sorts by accuracy.

    Raises:
        ValueError: for an unknown sort field.
    """
    if sort is not None and sort not in SORT_FIELDS:
        raise ValueError(f"sort: {sort!r} is not a column; choose {', '.join(SORT_FIELDS)}")
    sort = sort or "accuracy"
    attribute, larger_is_better = SORT_FIELDS[sort]
    pareto_first = multi_objective and sort == "accuracy"

    def key(row: TrialRow) -> tuple[Any, ...]:
        value = getattr(row, attribute)
        missing = value is None  # missing figures sort last whatever the direction
        ordered = 0.0 if missing else (-value if larger_is_better else value)
        return (
            not (pareto_first and row.pareto),
            STATUSES.index(row.status),
            missing,
            ordered,
            -(row.val_accuracy or 0.0),
            row.n_params if row.n_params is not None else float("inf"),
            row.number,
        )

    ranked: list[RankedTrial] = []
    rank = 0
    for row in sorted(rows, key=key):
        if row.has_accuracy:
            rank += 1
        ranked.append(RankedTrial(rank if row.has_accuracy else None, row))
    return ranked


def leaderboard(
    study: optuna.Study,
    *,
    top: int | None = None,
    sort: str | None = None,
    state: str | None = None,
) -> Leaderboard:
    """The leaderboard of ``study``.

    Ranks are computed before filtering, so a trial keeps its rank under ``state`` and ``top``.

    Args:
        top: keep the first ``top`` lines.
        sort: a ``SORT_FIELDS`` name (default accuracy: the Pareto set first when
            multi-objective).
        state: keep only trials of this status (``trained``, ``pruned``, ``rejected``, ...).

    Raises:
        ValueError: for an unknown sort field or state, or a ``top`` below 1.
    """
    if state is not None and state not in STATUSES:
        raise ValueError(f"state: {state!r} is not a trial state; choose {', '.join(STATUSES)}")
    if top is not None and top < 1:
        raise ValueError(f"top: must be >= 1, got {top}")
    objectives = objectives_of(study)
    rows = read_trials(study)
    entries = rank_trials(rows, multi_objective=len(objectives) > 1, sort=sort)
    if state is not None:
        entries = [entry for entry in entries if entry.trial.status == state]
    return Leaderboard(
        study=study.study_name,
        objectives=objectives,
        max_params=SearchSpec.read(study.user_attrs).max_params,
        counts={status: sum(row.status == status for row in rows) for status in STATUSES},
        sort=sort or "accuracy",
        state=state,
        entries=entries[:top] if top is not None else entries,
    )


LEADERBOARD_FIELDS = ("rank", *SUMMARY_FIELDS)
OVERVIEW_FIELDS = (
    "study",
    "objectives",
    "space",
    "dataset",
    "max_params",
    *STATUSES,
    "best_trial",
    "best_val_accuracy",
    "best_n_params",
)


def write_csv(records: list[dict[str, Any]], path: str | Path, columns: Sequence[str]) -> Path:
    """Writes flat records (``RankedTrial.summary()``, ``StudyOverview.to_dict()``) as CSV.

    Args:
        columns: the header (``LEADERBOARD_FIELDS`` or ``OVERVIEW_FIELDS``), written even when
            there is no record.
    """
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(records)
    return file


@dataclass(frozen=True)
class StudyOverview:
    """One study of a storage: what was searched, how many trials of each status, the best."""

    name: str
    objectives: tuple[str, ...]
    space: str | None
    dataset: str | None
    max_params: int | None
    counts: dict[str, int]
    best: TrialRow | None

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        values = (
            self.name,
            ",".join(self.objectives),
            self.space,
            self.dataset,
            self.max_params,
            *(self.counts.get(status, 0) for status in STATUSES),
            best.number if best else None,
            best.val_accuracy if best else None,
            best.n_params if best else None,
        )
        return dict(zip(OVERVIEW_FIELDS, values, strict=True))


def list_studies(storage: str | None) -> list[StudyOverview]:
    """An overview of every study in ``storage``: counts by status and the leader.

    Raises:
        ValueError: when the storage does not exist (the message lists storage files nearby).
    """
    backend = open_storage(storage, create=False)
    overviews = []
    for name in list_study_names(backend):
        study = optuna.load_study(study_name=name, storage=backend)
        board = leaderboard(study, state=TRAINED, top=1)
        spec = SearchSpec.read(study.user_attrs)
        overviews.append(
            StudyOverview(
                name=name,
                objectives=board.objectives,
                space=spec.space,
                dataset=spec.dataset,
                max_params=board.max_params,
                counts=board.counts,
                best=board.entries[0].trial if board.entries else None,
            )
        )
    return overviews
