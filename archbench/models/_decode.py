"""What the families' decoders share: reading a space's flat params into a config's fields.

Each family's decoder (``decode_resnet`` in ``_resnet.py``...) is built from these. Names follow
one convention so that spaces (built-in or from YAML) need no code of their own: top-level config
fields by their own name (``skip_kernel``), per-stage knobs as ``stage{i}.{field}`` (1-based), and
a bare stage field (``kernel_size``) as the value for every stage that has no
``stage{i}.kernel_size``. Anything not in the params keeps the config default. A knob the decoder
needs but cannot find is a ``ValueError`` naming it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

MAX_ITEMS = 64  # stages or blocks: far above any family's limit, low enough to refuse at once


def _init_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def top_level(params: Mapping[str, Any], cls: type, nested: set[str]) -> dict[str, Any]:
    fields = _init_fields(cls) - nested - {"family"}
    return {name: value for name, value in params.items() if name in fields}


def int_knob(params: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"params: {key}={value!r} must be an integer in [{low}, {high}]")
    return value


def item_count(params: Mapping[str, Any], count_key: str, prefix: str) -> int:
    """How many stages (blocks): the count knob, else the highest ``{prefix}N.*`` knob."""
    if count_key in params:
        return int_knob(params, count_key, 1, MAX_ITEMS)
    pattern = re.compile(rf"{prefix}(\d+)\.")
    indices = [int(m.group(1)) for m in map(pattern.match, params) if m]
    if not indices:
        raise ValueError(f"params: neither {count_key!r} nor any {prefix}N.* knob is set")
    if max(indices) > MAX_ITEMS:
        raise ValueError(f"params: {prefix}{max(indices)} is past the limit of {MAX_ITEMS}")
    return max(indices)


def item_fields(params: Mapping[str, Any], prefix: str, index: int, cls: type) -> dict[str, Any]:
    """One stage's (block's) fields: ``{prefix}{index}.{field}``, else the bare ``{field}``.

    Raises:
        ValueError: naming the knob when a field without a default has neither.
    """
    item = {}
    for field in dataclasses.fields(cls):
        key = f"{prefix}{index}.{field.name}"
        if key in params:
            item[field.name] = params[key]
        elif field.name in params:
            item[field.name] = params[field.name]
        elif field.default is dataclasses.MISSING:
            raise ValueError(f"params: missing knob {key!r} (or {field.name!r} for every {prefix})")
    return item


def required_knob(params: Mapping[str, Any], key: str, because: str) -> Any:
    if key not in params:
        raise ValueError(f"params: missing knob {key!r}, needed because {because}")
    return params[key]
