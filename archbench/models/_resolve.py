"""Turn what a user types (a preset name, a NAS-Bench-201 arch string or a config file) into a
config."""

from __future__ import annotations

from pathlib import Path

from archbench.models._config import ModelConfig
from archbench.models._family import load_config
from archbench.models._nb201 import config_from_arch
from archbench.models._presets import PRESETS, get_preset


def resolve_config(spec: str) -> ModelConfig:
    """A preset name, an arch string (``|op~0|+...|``, the benchmark's nb201 network), or a
    YAML/JSON file (a plain config or an exported trial).

    Raises:
        ValueError: when ``spec`` is neither a preset, a valid arch string nor a readable, valid
            config file.
    """
    if spec in PRESETS:
        return get_preset(spec)
    if spec.startswith("|"):
        return config_from_arch(spec)
    if Path(spec).suffix in (".yaml", ".yml", ".json") or Path(spec).exists():
        return load_config(spec)
    raise ValueError(
        f"{spec!r} is neither a preset ({', '.join(PRESETS)}), an nb201 arch string (|op~0|+...) "
        "nor a config file"
    )
