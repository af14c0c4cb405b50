"""The score registry: one name, one function, one line on where the score comes from.

Registries raise on duplicate names (torchvision's rule) so that a plug-in cannot silently replace
a built-in score, and on unknown names with the list of known ones, so a typo on the command line
is one clear line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archbench.zerocost._probe import Probe

ENSEMBLE = "ensemble"


@dataclass(frozen=True)
class ZeroCostScore:
    """A score of one config at initialisation; higher is predicted to be better.

    Attributes:
        name: the registry name (``synflow``, ``snip``, ...).
        compute: reads what it needs from the probe (the seeded model, the gradient pass).
        needs_data: whether it needs batches of the search's data (``synflow``, ``params`` and
            ``flops`` do not).
        source: the paper, in one line, for tables and ``--help``.
    """

    name: str
    compute: Callable[[Probe], float]
    needs_data: bool
    source: str


_SCORES: dict[str, ZeroCostScore] = {}


def register_score(score: ZeroCostScore) -> ZeroCostScore:
    """Adds a score under its name.

    Raises:
        ValueError: the name is taken (or is ``ensemble``, which ranks the other scores).
    """
    if score.name in _SCORES or score.name == ENSEMBLE:
        raise ValueError(f"zero-cost score {score.name!r} is already registered")
    _SCORES[score.name] = score
    return score


def get_score(name: str) -> ZeroCostScore:
    """The score registered as ``name``.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    try:
        return _SCORES[name]
    except KeyError:
        raise ValueError(
            f"unknown zero-cost score {name!r}; choose from {', '.join(list_scores())}"
        ) from None


def list_scores() -> list[str]:
    """Every name ``score_configs`` accepts, ``ensemble`` last."""
    return [*_SCORES, ENSEMBLE]


def resolve_scores(names: Iterable[str] | None) -> list[str]:
    """Checks a selection of score names; ``None`` or ``["all"]`` means every score.

    Raises:
        ValueError: an unknown or repeated name, or an empty selection.
    """
    chosen = list(names) if names is not None else ["all"]
    if chosen == ["all"]:
        return list_scores()
    if not chosen:
        raise ValueError("scores: choose at least one zero-cost score")
    for name in chosen:
        if name != ENSEMBLE:
            get_score(name)
    repeated = sorted({name for name in chosen if chosen.count(name) > 1})
    if repeated:
        raise ValueError(f"scores: {repeated[0]!r} is chosen twice")
    return chosen
