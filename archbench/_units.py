"""Parsing of the human-friendly sizes the CLI accepts: budgets (``5M``) and memory (``24GiB``)."""

from __future__ import annotations

import re

_COUNT_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9}
_BYTE_SUFFIXES = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "kib": 2**10,
    "m": 10**6, "mb": 10**6, "mib": 2**20,
    "g": 10**9, "gb": 10**9, "gib": 2**30,
    "t": 10**12, "tb": 10**12, "tib": 2**40,
}  # fmt: skip
_NUMBER = r"(?P<number>[0-9][0-9_]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)"


def parse_count(text: str, what: str = "max_params") -> int:
    """Parses ``5M``, ``5m``, ``4.5M``, ``500k``, ``5e6``, ``5_000_000`` or ``5000000``.

    Raises:
        ValueError: for anything else, or a value that is not a positive whole number.
    """
    match = re.fullmatch(_NUMBER + r"\s*(?P<suffix>[kmgb]?)", text.strip().lower())
    if not match:
        raise ValueError(f"{what}: cannot read {text!r}; write e.g. 5M, 4.5M, 500k, 5e6 or 5000000")
    value = float(match["number"].replace("_", "")) * _COUNT_SUFFIXES[match["suffix"]]
    if value < 1 or value != int(value):
        raise ValueError(f"{what}: {text!r} must be a positive whole number")
    return int(value)


def parse_bytes(text: str, what: str = "memory") -> int:
    """Parses ``24GiB``, ``12GB``, ``512MiB`` or a plain number of bytes (GiB are powers of 2)."""
    match = re.fullmatch(_NUMBER + r"\s*(?P<suffix>[kmgt]?i?b?)", text.strip().lower())
    if not match or match["suffix"] not in _BYTE_SUFFIXES:
        raise ValueError(f"{what}: cannot read {text!r}; write e.g. 24GiB, 12GB or 512MiB")
    value = float(match["number"].replace("_", "")) * _BYTE_SUFFIXES[match["suffix"]]
    if value <= 0:
        raise ValueError(f"{what}: {text!r} must be positive")
    return int(value)


def format_count(value: float) -> str:
    """``4733610`` -> ``4.73M``: for tables."""
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:g}"


def format_bytes(value: float) -> str:
    """``25769803776`` -> ``24.0 GiB``."""
    for suffix, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {suffix}"
    return f"{value:.0f} B"
