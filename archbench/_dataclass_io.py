"""Strict conversion between frozen dataclasses and plain dicts, YAML and JSON.

Every typed record in archbench (model configs, training recipes, profile results) goes through
here so that an unknown key, a wrong type or an impossible value fails the same way: one
``ValueError`` naming the field and what is allowed (nanoGPT's "reject unknown keys" semantics).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """Turns a dataclass (recursively) into JSON-ready dicts, lists and scalars."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_dict(item) for item in obj]
    if isinstance(obj, Mapping):
        return {str(key): to_dict(value) for key, value in obj.items()}
    return obj


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Builds ``cls`` from ``data``, rejecting unknown keys and values of the wrong type.

    Raises:
        ValueError: naming the offending field (dotted path) and what it accepts.
    """
    where = path or cls.__name__
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints, fields = _schema(cls)  # type: ignore[arg-type]  # classes are hashable
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        raise ValueError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, f"{path}.{name}" if path else name)
    missing = [
        name
        for name, f in fields.items()
        if name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"{where}: missing required key {missing[0]!r}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        raise ValueError(f"{where}: {exc}") from None


@functools.cache
def _schema(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """Resolved type hints and init fields of ``cls``; resolving hints is slow, so once."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    return typing.get_type_hints(cls), fields


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ValueError as exc:
                errors.append(str(exc))
        # A branch of the right shape that failed deeper (a nested field) says the most.
        deeper = [e for e in errors if not e.startswith(f"{path}: expected")]
        if len(deeper) == 1 or len(errors) == 1:
            raise ValueError((deeper or errors)[0])
        raise ValueError(f"{path}: {value!r} matches no allowed type")
    if origin is Literal:
        if value not in args or isinstance(value, bool) != isinstance(args[0], bool):
            allowed = ", ".join(repr(a) for a in args)
            raise ValueError(f"{path}: {value!r} is not allowed; choose one of {allowed}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{path}: expected a list, got {type(value).__name__}")
        item_type = args[0]
        return tuple(_convert(item_type, item, f"{path}[{i}]") for i, item in enumerate(value))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{path}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{path}: expected a number, got {value!r}")
        try:
            return float(value)
        except OverflowError:  # an integer beyond the float range
            raise ValueError(f"{path}: {value} is too large for a number") from None
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{path}: expected a string, got {value!r}")
        return value
    if tp is Any:
        return value
    raise TypeError(f"{path}: unsupported field type {tp!r}")  # programming error, not user input


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Reads a YAML or JSON file holding one mapping.

    Raises:
        ValueError: when the file is missing, malformed or not a mapping.
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{file}: no such file")
    text = file.read_text()
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ValueError(
            f"{file}: malformed {file.suffix.lstrip('.') or 'YAML'}: {first_line}"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"{file}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def write_mapping(data: Mapping[str, Any], path: str | Path) -> Path:
    """Writes a mapping as JSON (``.json``) or YAML (anything else), creating parent folders."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    if file.suffix == ".json":
        file.write_text(json.dumps(data, indent=2) + "\n")
    else:
        file.write_text(yaml.safe_dump(dict(data), sort_keys=False))
    return file
