"""``SearchSpace``: an ordered mapping of named params, a model family and a pure decoder.

The space is backend-neutral data (Syne Tune's idea): it round-trips through JSON, samples itself
for tests and random search, knows its size, and can bound the parameter counts of the configs it
holds without building a single model.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from archbench.models._config import ModelConfig
from archbench.models._count import count_params
from archbench.models._family import get_family
from archbench.spaces._params import FixedParam, Param, param_from_dict

MAX_PARENT_VALUES = 1000  # size() walks every value of an active_if parent


@dataclass(frozen=True)
class DataShape:
    """The data set's side of a config: the count depends on it (stem and classifier)."""

    num_classes: int = 10
    in_channels: int = 3
    input_size: int = 32


@dataclass(frozen=True)
class SearchSpace:
    """A named, ordered set of params that decodes into configs of one family.

    Parents must come before the params that are ``active_if`` them, so one pass in order
    decides which params exist (what Optuna's define-by-run needs).
    """

    name: str
    family: str
    params: Mapping[str, Param]
    description: str = ""
    _order: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            get_family(self.family)
        except ValueError as exc:
            raise ValueError(f"space {self.name!r}: {exc}") from None
        if not self.params:
            raise ValueError(f"space {self.name!r}: has no params")
        seen: set[str] = set()
        for name, param in self.params.items():
            condition = param.active_if
            if condition is not None and condition.param not in seen:
                raise ValueError(
                    f"space {self.name!r}: param {name!r} is active_if {condition.param!r}, "
                    "which must be defined before it"
                )
            if condition is not None:
                self._check_parent(condition.param)
            seen.add(name)
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "_order", tuple(self.params))
        self._check_decoder()

    def _check_parent(self, name: str) -> None:
        """A parent of ``active_if`` needs a short list of values (``size`` walks them)."""
        cardinality = self.params[name].cardinality()
        if cardinality is None or cardinality > MAX_PARENT_VALUES:
            raise ValueError(
                f"space {self.name!r}: param {name!r} is an active_if parent, so it must take at "
                f"most {MAX_PARENT_VALUES} values (an int, choice or fixed param)"
            )

    def _check_decoder(self) -> None:
        """Decodes the first and the last value of every knob, so a space that lacks a knob its
        family needs (``block1.kernel2`` of a branchnet) fails now, naming it, not mid-search."""
        for first, which in ((True, "first"), (False, "last")):
            try:
                self.to_config(self._fill({}, pick_first=first))
            except ValueError as exc:
                raise ValueError(
                    f"space {self.name!r}: {exc} (decoding the {which} value of every knob)"
                ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether ``name`` exists given the values of the params before it."""
        condition = self.params[name].active_if
        if condition is None:
            return True
        return condition.param in params and any(
            params[condition.param] == value for value in condition.values
        )

    def validate(self, params: Mapping[str, Any]) -> None:
        """Checks that exactly the active params are given, each within its domain.

        Raises:
            ValueError: naming the first param that is missing, out of bounds or inactive.
        """
        active = []
        for name in self._order:
            if not self.is_active(name, params):
                continue
            active.append(name)
            if name not in params:
                raise ValueError(f"space {self.name!r}: param {name!r} is missing")
            if not self.params[name].contains(params[name]):
                raise ValueError(
                    f"space {self.name!r}: {name}={params[name]!r} is outside "
                    f"{self.params[name].to_dict()}"
                )
        extra = sorted(set(params) - set(active))
        if extra:
            raise ValueError(f"space {self.name!r}: param {extra[0]!r} is unknown or inactive here")

    def sample(self, seed: int | random.Random) -> dict[str, Any]:
        """One random point, drawn in order so that conditions see their parents."""
        rng = seed if isinstance(seed, random.Random) else random.Random(seed)
        params: dict[str, Any] = {}
        for name in self._order:
            if self.is_active(name, params):
                params[name] = self.params[name].sample(rng)
        return params

    def to_config(self, params: Mapping[str, Any], shape: DataShape | None = None) -> ModelConfig:
        """Decodes a params dict into a model config (pure; no model is built)."""
        shape = shape or DataShape()
        fixed = {
            name: p.value
            for name, p in self.params.items()
            if isinstance(p, FixedParam) and self.is_active(name, params) and name not in params
        }
        cfg = get_family(self.family).decode({**fixed, **params})
        return cfg.with_data(
            num_classes=shape.num_classes,
            in_channels=shape.in_channels,
            input_size=shape.input_size,
        )

    def size(self) -> int | None:
        """Number of distinct points, or ``None`` when a continuous param makes it infinite."""
        parents = {p.active_if.param for p in self.params.values() if p.active_if is not None}

        def count(index: int, assigned: dict[str, Any]) -> int | None:
            if index == len(self._order):
                return 1
            name = self._order[index]
            param = self.params[name]
            if not self.is_active(name, assigned):
                return count(index + 1, assigned)
            if name in parents:
                total = 0
                for value in param.values():  # type: ignore[union-attr]  # parents are discrete
                    rest = count(index + 1, {**assigned, name: value})
                    if rest is None:
                        return None
                    total += rest
                return total
            cardinality = param.cardinality()
            rest = count(index + 1, assigned)
            return None if cardinality is None or rest is None else cardinality * rest

        return count(0, {})

    def _extreme_params(self, smallest: bool, shape: DataShape) -> dict[str, Any]:
        """Coordinate descent on the analytic count from the space's first corner.

        Parameter counts grow monotonically with widths, depths, kernels and branches (and
        shrink with the head's pooling kernel), so moving one param at a time to its best value
        reaches the corner of the space; a few passes settle any interaction.
        """
        sign = 1 if smallest else -1
        params = self._fill({}, pick_first=smallest)
        best = sign * count_params(self.to_config(params, shape))
        for _ in range(6):
            improved = False
            for name in self._order:
                if name not in params:
                    continue
                for value in self.params[name].extremes():  # type: ignore[union-attr]
                    if value == params[name]:
                        continue
                    candidate = self._fill({**params, name: value}, pick_first=smallest)
                    score = sign * count_params(self.to_config(candidate, shape))
                    if score < best:
                        best, params, improved = score, candidate, True
            if not improved:
                break
        return params

    def _fill(self, params: Mapping[str, Any], pick_first: bool) -> dict[str, Any]:
        """Completes ``params`` in order: keeps given values, adds an extreme for missing ones."""
        filled: dict[str, Any] = {}
        for name in self._order:
            if not self.is_active(name, filled):
                continue
            if name in params:
                filled[name] = params[name]
            else:
                extremes = self.params[name].extremes()  # type: ignore[union-attr]
                filled[name] = extremes[0] if pick_first else extremes[-1]
        return filled

    def min_params(self, shape: DataShape | None = None) -> int:
        """Parameter count of the smallest config in the space."""
        shape = shape or DataShape()
        return count_params(self.to_config(self._extreme_params(True, shape), shape))

    def max_params(self, shape: DataShape | None = None) -> int:
        """Parameter count of the largest config in the space."""
        shape = shape or DataShape()
        return count_params(self.to_config(self._extreme_params(False, shape), shape))

    def smallest_params(self, shape: DataShape | None = None) -> dict[str, Any]:
        """The params of the smallest config (what ``min_params`` counts)."""
        return self._extreme_params(True, shape or DataShape())

    def feasible_fraction(
        self, max_params: int, shape: DataShape | None = None, samples: int = 2000, seed: int = 0
    ) -> float:
        """Share of uniformly sampled configs within ``max_params`` (a seeded estimate)."""
        rng = random.Random(seed)
        shape = shape or DataShape()
        fits = sum(
            count_params(self.to_config(self.sample(rng), shape)) <= max_params
            for _ in range(samples)
        )
        return fits / samples

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "description": self.description,
            "params": {name: param.to_dict() for name, param in self.params.items()},
        }

    @classmethod
    def from_dict(cls, data: Any) -> SearchSpace:
        """Reads a space from its JSON/YAML form (what ``to_dict`` writes).

        Raises:
            ValueError: for unknown keys, bad params or conditions on undefined params.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"space: expected a mapping, got {type(data).__name__}")
        unknown = set(data) - {*_KEYS, "summary"}
        if unknown:
            raise ValueError(
                f"space: unknown key {sorted(unknown, key=str)[0]!r}; "
                f"allowed: {', '.join(_KEYS)}, summary"
            )
        for key in ("name", "family", "params"):
            if key not in data:
                raise ValueError(f"space: missing key {key!r}")
        for key in ("name", "family", "description"):
            if not isinstance(data.get(key, ""), str):
                raise ValueError(f"space: {key!r} must be a string, got {data[key]!r}")
        if not isinstance(data["params"], Mapping):
            raise ValueError("space: 'params' must be a mapping of name -> param")
        if not isinstance(data.get("summary", {}), Mapping):
            raise ValueError("space: 'summary' must be a mapping (it is derived, and ignored)")
        params = {str(name): param_from_dict(str(name), p) for name, p in data["params"].items()}
        return cls(
            name=data["name"],
            family=data["family"],
            description=data.get("description", ""),
            params=_parents_first(data["name"], params),
        )


_KEYS = ("name", "family", "description", "params")


def _parents_first(space: str, params: dict[str, Param]) -> dict[str, Param]:
    """Orders params so each comes after the param it is ``active_if`` (stable otherwise).

    A file may list params in any order (YAML dumpers often sort keys); a search needs parents
    first.
    """
    ordered: dict[str, Param] = {}
    visiting: set[str] = set()

    def place(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ValueError(f"space {space!r}: the active_if conditions of {name!r} form a cycle")
        visiting.add(name)
        condition = params[name].active_if
        if condition is not None:
            if condition.param not in params:
                raise ValueError(
                    f"space {space!r}: param {name!r} is active_if {condition.param!r}, "
                    "which is not defined"
                )
            place(condition.param)
        ordered[name] = params[name]

    for name in params:
        place(name)
    return ordered
