"""Pure decoders from a flat params dict to a ``ModelConfig``, one per family.

Names follow one convention so that spaces (built-in or from YAML) need no code of their own:
top-level config fields by their own name (``skip_kernel``), per-stage knobs as
``stage{i}.{field}`` (1-based), and a bare stage field (``kernel_size``) as the value for every
stage that has no ``stage{i}.kernel_size``. Anything not in the params keeps the config default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from archbench.models._config import (
    BranchBlock,
    BranchNetConfig,
    ModelConfig,
    ResNetConfig,
    ResNetStage,
    VGGConfig,
    VGGStage,
    config_from_dict,
)

Decoder = Callable[[Mapping[str, Any]], ModelConfig]


def _init_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def _top_level(params: Mapping[str, Any], cls: type, nested: set[str]) -> dict[str, Any]:
    fields = _init_fields(cls) - nested - {"family"}
    return {name: value for name, value in params.items() if name in fields}


def _count(params: Mapping[str, Any], count_key: str, prefix: str) -> int:
    if count_key in params:
        return int(params[count_key])
    indices = {int(name.split(".")[0][len(prefix) :]) for name in params if name.startswith(prefix)}
    if not indices:
        raise ValueError(f"params: neither {count_key!r} nor any {prefix}N.* knob is set")
    return max(indices)


def _item(params: Mapping[str, Any], prefix: str, index: int, cls: type) -> dict[str, Any]:
    item = {}
    for name in _init_fields(cls):
        key = f"{prefix}{index}.{name}"
        if key in params:
            item[name] = params[key]
        elif name in params:
            item[name] = params[name]
    return item


def decode_resnet(params: Mapping[str, Any]) -> ResNetConfig:
    stages = []
    for i in range(1, _count(params, "num_stages", "stage") + 1):
        stage = _item(params, "stage", i, ResNetStage)
        stage.setdefault("stride", 1 if i == 1 else 2)
        stages.append(stage)
    data = {"family": "resnet", **_top_level(params, ResNetConfig, {"stages"}), "stages": stages}
    return config_from_dict(data)  # type: ignore[return-value]


def decode_vgg(params: Mapping[str, Any]) -> VGGConfig:
    stages = [
        _item(params, "stage", i, VGGStage)
        for i in range(1, _count(params, "num_stages", "stage") + 1)
    ]
    hidden = [params[f"hidden{j}.width"] for j in range(1, int(params.get("num_hidden", 0)) + 1)]
    data = {
        "family": "vgg",
        **_top_level(params, VGGConfig, {"stages", "classifier"}),
        "stages": stages,
        "classifier": hidden,
    }
    return config_from_dict(data)  # type: ignore[return-value]


def decode_branchnet(params: Mapping[str, Any]) -> BranchNetConfig:
    blocks = []
    for i in range(1, _count(params, "num_blocks", "block") + 1):
        block = _item(params, "block", i, BranchBlock)
        if f"block{i}.branches" in params:
            branches = int(params[f"block{i}.branches"])
            block["kernels"] = [params[f"block{i}.kernel{j}"] for j in range(1, branches + 1)]
        block.setdefault("stride", 1 if i == 1 else 2)
        blocks.append(block)
    data = {
        "family": "branchnet",
        **_top_level(params, BranchNetConfig, {"blocks"}),
        "blocks": blocks,
    }
    return config_from_dict(data)  # type: ignore[return-value]


DECODERS: dict[str, Decoder] = {
    "resnet": decode_resnet,
    "vgg": decode_vgg,
    "branchnet": decode_branchnet,
}
