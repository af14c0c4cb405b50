"""The space registry: built-in spaces by name, user spaces from YAML or JSON files."""

from __future__ import annotations

from pathlib import Path

from archbench._dataclass_io import read_mapping
from archbench.spaces._base import SearchSpace
from archbench.spaces._builtin import branchnet_space, nb201_space, resnet_space, vgg_space

_REGISTRY: dict[str, SearchSpace] = {}


def register_space(space: SearchSpace) -> SearchSpace:
    """Adds ``space`` under its name.

    Raises:
        ValueError: when the name is taken (as torchvision's model registry does).
    """
    if space.name in _REGISTRY:
        raise ValueError(f"a space named {space.name!r} is already registered")
    _REGISTRY[space.name] = space
    return space


def list_spaces() -> list[str]:
    return list(_REGISTRY)


def get_space(name: str) -> SearchSpace:
    """A registered space by name, or a space file (``.yaml``, ``.yml``, ``.json``).

    Raises:
        ValueError: for an unknown name or an invalid file, saying what exists.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if Path(name).suffix in (".yaml", ".yml", ".json") or Path(name).exists():
        return load_space(name)
    raise ValueError(f"unknown space {name!r}; spaces: {', '.join(_REGISTRY)} or a .yaml file")


def load_space(path: str | Path) -> SearchSpace:
    """Reads a user space from YAML or JSON (the format ``archbench spaces show --json`` prints)."""
    try:
        return SearchSpace.from_dict(read_mapping(path))
    except ValueError as exc:
        message = str(exc)
        raise ValueError(
            message if message.startswith(str(path)) else f"{path}: {message}"
        ) from None


for _space in (resnet_space(), vgg_space(), branchnet_space(), nb201_space()):
    register_space(_space)
