"""Declarative search-space parameters: plain data that any backend can walk.

Bounds are inclusive everywhere (Optuna's convention). A parameter may be conditional on a parent
(``active_if``), the Keras Tuner ``conditional_scope`` idea expressed as data, so the same space
drives Optuna's define-by-run suggestions under both search backends, Optuna's and Ray Tune's.
No torch, optuna or ray import here.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

Scalar = bool | int | float | str
INT_LIMIT = 2**62


@dataclass(frozen=True)
class ActiveIf:
    """The param exists only when ``param`` is active and takes one of ``values``."""

    param: str
    values: tuple[Scalar, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "values": list(self.values)}


@dataclass(frozen=True)
class IntParam:
    low: int
    high: int
    step: int = 1
    log: bool = False
    active_if: ActiveIf | None = None

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"int param: low {self.low} is above high {self.high}")
        if self.step < 1:
            raise ValueError(f"int param: step must be >= 1, got {self.step}")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError("int param: log scale needs low >= 1 and step 1")
        if max(abs(self.low), abs(self.high)) > INT_LIMIT:
            raise ValueError("int param: low and high must be within +-2**62 (int64, as Optuna)")

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))

    def cardinality(self) -> int:
        return (self.high - self.low) // self.step + 1

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )

    def sample(self, rng: random.Random) -> int:
        if self.log:
            return min(
                self.high, int(math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1))))
            )
        return self.low + self.step * rng.randrange(self.cardinality())

    def extremes(self) -> list[int]:
        return [self.low, self.low + self.step * (self.cardinality() - 1)]

    def to_dict(self) -> dict[str, Any]:
        return _with_condition(
            {"type": "int", "low": self.low, "high": self.high, "step": self.step, "log": self.log},
            self.active_if,
        )


@dataclass(frozen=True)
class FloatParam:
    low: float
    high: float
    log: bool = False
    step: float | None = None
    active_if: ActiveIf | None = None

    def __post_init__(self) -> None:
        if not (_finite(self.low) and _finite(self.high)):
            raise ValueError(f"float param: low {self.low} and high {self.high} must be finite")
        if self.low > self.high:
            raise ValueError(f"float param: low {self.low} is above high {self.high}")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("float param: log scale needs low > 0 and no step")
        if self.step is not None and not (
            _finite(self.step)
            and self.step > 0
            and _finite(_ratio(self.high - self.low, self.step))
        ):
            raise ValueError(f"float param: step must be a positive number, got {self.step}")

    def cardinality(self) -> int | None:
        if self.step is None:
            return None
        return int(round((self.high - self.low) / self.step)) + 1

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )

    def sample(self, rng: random.Random) -> float:
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        if self.step is not None:
            return self.low + self.step * rng.randrange(self.cardinality() or 1)
        return rng.uniform(self.low, self.high)

    def extremes(self) -> list[float]:
        return [self.low, self.high]

    def to_dict(self) -> dict[str, Any]:
        return _with_condition(
            {
                "type": "float",
                "low": self.low,
                "high": self.high,
                "log": self.log,
                "step": self.step,
            },
            self.active_if,
        )


@dataclass(frozen=True)
class ChoiceParam:
    choices: tuple[Scalar, ...]
    active_if: ActiveIf | None = None

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError("choice param: needs at least one choice")
        for choice in self.choices:
            if not _is_scalar(choice):
                raise ValueError(
                    "choice param: each choice must be a bool, a string or a finite number, "
                    f"got {choice!r}"
                )
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"choice param: duplicate choices in {list(self.choices)}")

    def values(self) -> list[Scalar]:
        return list(self.choices)

    def cardinality(self) -> int | None:
        return len(self.choices)

    def contains(self, value: Any) -> bool:
        return any(
            value == c and isinstance(value, bool) == isinstance(c, bool) for c in self.choices
        )

    def sample(self, rng: random.Random) -> Scalar:
        return rng.choice(self.choices)

    def extremes(self) -> list[Scalar]:
        return list(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return _with_condition({"type": "choice", "choices": list(self.choices)}, self.active_if)


@dataclass(frozen=True)
class FixedParam:
    value: Scalar
    active_if: ActiveIf | None = None

    def __post_init__(self) -> None:
        if not _is_scalar(self.value):
            raise ValueError(
                "fixed param: value must be a bool, a string or a finite number, "
                f"got {self.value!r}"
            )

    def values(self) -> list[Scalar]:
        return [self.value]

    def cardinality(self) -> int | None:
        return 1

    def contains(self, value: Any) -> bool:
        return bool(value == self.value)

    def sample(self, rng: random.Random) -> Scalar:
        return self.value

    def extremes(self) -> list[Scalar]:
        return [self.value]

    def to_dict(self) -> dict[str, Any]:
        return _with_condition({"type": "fixed", "value": self.value}, self.active_if)


Param = IntParam | FloatParam | ChoiceParam | FixedParam

_PARAM_TYPES: dict[str, type] = {
    "int": IntParam,
    "float": FloatParam,
    "choice": ChoiceParam,
    "fixed": FixedParam,
}
_PARAM_KEYS = {
    "int": {"low", "high", "step", "log"},
    "float": {"low", "high", "log", "step"},
    "choice": {"choices"},
    "fixed": {"value"},
}


def _is_scalar(value: Any) -> bool:
    """A value a param may take: a bool, a string or a finite number (JSON has no NaN)."""
    return isinstance(value, (bool, str)) or (isinstance(value, (int, float)) and _finite(value))


def _ratio(numerator: float, denominator: float) -> float:
    try:
        return numerator / denominator
    except (OverflowError, ZeroDivisionError):
        return math.inf


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int too large for a float
        return False


def _with_condition(data: dict[str, Any], active_if: ActiveIf | None) -> dict[str, Any]:
    if active_if is not None:
        data["active_if"] = active_if.to_dict()
    return data


def param_from_dict(name: str, data: Any) -> Param:
    """Reads one param from its JSON/YAML form, e.g. ``{type: int, low: 1, high: 4}``.

    Raises:
        ValueError: naming the param and the problem.
    """
    if not isinstance(data, dict):
        raise ValueError(f"param {name!r}: expected a mapping with a 'type', got {data!r}")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _PARAM_TYPES:
        raise ValueError(
            f"param {name!r}: type {kind!r} is unknown; use int, float, choice or fixed"
        )
    unknown = set(data) - _PARAM_KEYS[kind] - {"type", "active_if"}
    if unknown:
        allowed = ", ".join(sorted(_PARAM_KEYS[kind] | {"type", "active_if"}))
        first = sorted(unknown, key=str)[0]
        raise ValueError(f"param {name!r}: unknown key {first!r}; allowed: {allowed}")
    kwargs = {key: value for key, value in data.items() if key in _PARAM_KEYS[kind]}
    if kind == "choice":
        if not isinstance(kwargs.get("choices"), list):
            raise ValueError(f"param {name!r}: 'choices' must be a list")
        kwargs["choices"] = tuple(kwargs["choices"])
    if kind in ("int", "float"):
        for key in ("low", "high"):
            if key not in kwargs:
                raise ValueError(f"param {name!r}: missing {key!r}")
        number = int if kind == "int" else (int, float)
        for key in ("low", "high", "step"):
            value = kwargs.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, number)):
                raise ValueError(f"param {name!r}: {key} must be a number, got {value!r}")
        if not isinstance(kwargs.get("log", False), bool):
            raise ValueError(f"param {name!r}: log must be true or false, got {kwargs['log']!r}")
    if kind == "fixed" and "value" not in kwargs:
        raise ValueError(f"param {name!r}: missing 'value'")
    condition = data.get("active_if")
    if condition is not None:
        if (
            not isinstance(condition, dict)
            or set(condition) != {"param", "values"}
            or not isinstance(condition["values"], list)
        ):
            raise ValueError(
                f"param {name!r}: active_if must be {{param: NAME, values: [...]}}, "
                f"got {condition!r}"
            )
        kwargs["active_if"] = ActiveIf(str(condition["param"]), tuple(condition["values"]))
    try:
        return _PARAM_TYPES[kind](**kwargs)  # type: ignore[no-any-return]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"param {name!r}: {exc}") from None
