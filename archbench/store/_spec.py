"""``SearchSpec``: what a search was asked for, as its study stores it.

A study holds one search, however often it is resumed and by however many processes or
machines. Its user attrs therefore store what the user asked for, once: the search writes them
and checks a resume against them (``conflict``), and the results read them back (``read``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class SearchSpec:
    """The stored settings of a study: one user attr per field (docs/CONTRACTS.md), each set
    by the search that made it.

    ``epochs`` and ``recipe`` are the trials' training (``SearchSettings.trial_recipe``); a
    ``--benchmark`` lookup stores the table's epochs and no recipe. The fields outside
    ``MUST_MATCH`` may differ when a study is resumed; the first run's values stay stored.
    """

    MUST_MATCH: ClassVar[tuple[str, ...]] = (
        "space", "max_params", "objectives", "dataset", "benchmark",
    )  # fmt: skip

    space: str | None
    space_definition: dict[str, Any] | None
    family: str | None
    max_params: int | None
    max_flops: int | None
    max_latency_ms: float | None
    min_batch: int | None
    memory_bytes: int | None
    objectives: list[str] | None
    dataset: str | None
    subset: float | None
    epochs: int | None
    recipe: dict[str, Any] | None
    benchmark: str | None
    sampler: str | None
    pruner: str | None
    backend: str | None

    @classmethod
    def read(cls, attrs: Mapping[str, Any]) -> SearchSpec:
        """The spec a study's ``attrs`` hold; a field a study lacks (an older archbench wrote
        it) reads as None."""
        return cls(**{field.name: attrs.get(field.name) for field in fields(cls)})

    def to_attrs(self) -> dict[str, Any]:
        return asdict(self)

    def conflict(self, stored: Mapping[str, Any]) -> str | None:
        """Why a study with the ``stored`` attrs cannot be resumed with this spec, or None."""
        for key in self.MUST_MATCH:
            ours = getattr(self, key)
            if key in stored and stored[key] != ours:
                return f"{key}={stored[key]!r}, not {ours!r}"
        return None


# The study attr the search writes last, when the spec and the baselines are in: the version of
# archbench that made the study.
VERSION_ATTR = "archbench_version"
