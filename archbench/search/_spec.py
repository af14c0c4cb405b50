"""``SearchSpec``: what a search was asked for, as its study stores it.

A study holds one search, however often it is resumed and by however many processes or
machines. Its user attrs therefore store what the user asked for, once, and a search that
resumes the study must agree with them where a difference would mix two searches in one ranking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from archbench.search._context import TrialContext


@dataclass(frozen=True)
class SearchSpec:
    """The stored settings of a study: one user attr per field (docs/CONTRACTS.md).

    ``epochs`` and ``recipe`` are the trials' training (``SearchSettings.trial_recipe``); a
    ``--benchmark`` lookup stores the table's epochs and no recipe. The fields outside
    ``MUST_MATCH`` may differ when a study is resumed; the first run's values stay stored.
    """

    MUST_MATCH: ClassVar[tuple[str, ...]] = (
        "space", "max_params", "objectives", "dataset", "benchmark",
    )  # fmt: skip

    space: str
    space_definition: dict[str, Any]
    family: str
    max_params: int | None
    max_flops: int | None
    max_latency_ms: float | None
    min_batch: int | None
    memory_bytes: int | None
    objectives: list[str]
    dataset: str
    subset: float
    epochs: int
    recipe: dict[str, Any] | None
    benchmark: str | None
    sampler: str
    pruner: str
    backend: str

    @classmethod
    def of(cls, context: TrialContext) -> SearchSpec:
        from archbench.tables import NB201_EPOCHS

        settings, space, recipe = context.settings, context.space, context.recipe
        looked_up = settings.benchmark is not None
        budget = settings.budget
        return cls(
            space=space.name,
            space_definition=space.to_dict(),
            family=space.family,
            max_params=budget.max_params,
            max_flops=budget.max_flops,
            max_latency_ms=budget.max_latency_ms,
            min_batch=budget.min_batch,
            memory_bytes=budget.memory_bytes,
            objectives=list(settings.objectives),
            dataset=settings.dataset,
            subset=settings.subset,
            epochs=NB201_EPOCHS if looked_up else recipe.epochs,
            recipe=None if looked_up else recipe.to_dict(),
            benchmark=settings.benchmark,
            sampler=settings.sampler,
            pruner=settings.pruner,
            backend=settings.backend,
        )

    def to_attrs(self) -> dict[str, Any]:
        return asdict(self)

    def conflict(self, stored: Mapping[str, Any]) -> str | None:
        """Why a study with the ``stored`` attrs cannot be resumed with this spec, or None."""
        for key in self.MUST_MATCH:
            ours = getattr(self, key)
            if key in stored and stored[key] != ours:
                return f"{key}={stored[key]!r}, not {ours!r}"
        return None
