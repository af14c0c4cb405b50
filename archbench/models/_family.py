"""The family registry: one ``Family`` record per model family, looked up by name.

Everything that differs between families (the config class, the torch builder, the analytic
counter, the width scaler and the decoder from a space's flat params) hangs off one record, so
dispatch is a dictionary lookup instead of ``isinstance`` chains (timm's ``create_block`` idea).
The builder is named by its import path and loaded on first use: counting, fitting and spaces
stay torch-free. Each built-in family registers itself in its own module (``_resnet.py``...),
which ``models/_families.py`` imports, and ``config_from_dict`` picks a config's class here by its
``family`` name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from archbench import _dataclass_io

if TYPE_CHECKING:
    from torch import nn

    from archbench.models._config import ModelConfig

C = TypeVar("C", bound="ModelConfig")


@dataclass(frozen=True)
class Family(Generic[C]):
    """What archbench needs to know about one model family.

    Attributes:
        name: the ``family`` value of its configs and spaces.
        config_class: the frozen config dataclass (its ``family`` field defaults to ``name``).
        builder: ``"module:attribute"`` of a callable from a config to an ``nn.Module``; imported
            on first build so that the rest of the record never imports torch.
        count: exact trainable parameter count of the built model, in pure Python.
        scale_widths: the config with every channel width times a multiplier (rounded to 4).
        decode: a config from a space's flat params (``stage2.channels``, ``num_stages``...).
            Raises ``ValueError`` naming a missing knob.
        flops: exact forward FLOPs per image as torch's ``FlopCounterMode`` counts them, in pure
            Python; ``None`` counts them on a model built on the meta device (slower: a FLOPs
            cap then costs a build per budget check).
    """

    name: str
    config_class: type[C]
    builder: str
    count: Callable[[C], int]
    scale_widths: Callable[[C, float], C]
    decode: Callable[[Mapping[str, Any]], C]
    flops: Callable[[C], int] | None = None

    def build(self, cfg: C) -> nn.Module:
        module, _, attribute = self.builder.partition(":")
        model: nn.Module = getattr(importlib.import_module(module), attribute)(cfg)
        return model


_FAMILIES: dict[str, Family[Any]] = {}


def register_family(family: Family[C]) -> Family[C]:
    """Adds ``family`` under its name.

    Raises:
        ValueError: when the name is taken, or the config class does not default to the name.
    """
    if family.name in _FAMILIES:
        raise ValueError(f"a model family named {family.name!r} is already registered")
    declared = family.config_class.__dataclass_fields__["family"].default
    if declared != family.name:
        raise ValueError(
            f"family {family.name!r}: {family.config_class.__name__}.family defaults to "
            f"{declared!r}, not {family.name!r}"
        )
    _FAMILIES[family.name] = family
    return family


def list_families() -> list[str]:
    return list(_FAMILIES)


def get_family(name: object) -> Family[Any]:
    """The family registered under ``name`` (any value read from a file is accepted).

    Raises:
        ValueError: when ``name`` is not a string or not a registered family, listing them.
    """
    if not isinstance(name, str) or name not in _FAMILIES:
        raise ValueError(
            f"family: {name!r} is not a model family; choose one of {', '.join(_FAMILIES)}"
        )
    return _FAMILIES[name]


def family_of(cfg: ModelConfig) -> Family[Any]:
    return get_family(cfg.family)


def config_from_dict(data: Mapping[str, Any]) -> ModelConfig:
    """Builds a config from a dict whose ``family`` key picks the class.

    Raises:
        ValueError: on a missing or unknown family, an unknown key, a wrong type or a bad value.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"model config: expected a mapping, got {type(data).__name__}")
    return _dataclass_io.from_dict(get_family(data.get("family")).config_class, data)


def load_config(path: str | Path) -> ModelConfig:
    """Reads a model config from YAML or JSON.

    An exported trial file (see ``archbench export``) holds the config under ``model``; it is
    accepted as-is.
    """
    data: Mapping[str, Any] = _dataclass_io.read_mapping(path)
    try:
        return config_from_dict(data.get("model", data))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
