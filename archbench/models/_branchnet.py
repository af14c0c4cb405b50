"""The BranchNet family: residual blocks of parallel conv branches mixed by learned weights.

Everything here is pure Python: the config and its blocks, the exact parameter and FLOPs counts
(which walk the ``_layout`` plans that the torch builder, ``_branchnet_net.py``, also follows),
the width scaler, the decoder of a space's flat params, the preset and the family's
registration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from archbench import _dataclass_io
from archbench.models._config import (
    Activation,
    ModelConfig,
    check_regularizers,
    require,
    require_range,
)
from archbench.models._count import conv_bn_params, linear_params, squeeze_excitation_params
from archbench.models._count_flops import conv_flops, linear_flops, squeeze_excitation_flops
from archbench.models._decode import int_knob, item_count, item_fields, required_knob, top_level
from archbench.models._family import Family, register_family
from archbench.models._fit import scaled_items, scaled_width
from archbench.models._layout import (
    conv_output_size,
    needs_projection,
    stochastic_depth_rate,
)
from archbench.models._presets import Preset, register_presets

KERNEL_SIZES = (1, 3, 5, 7)


@dataclass(frozen=True)
class BranchBlock:
    """One parallel-branch block: a conv branch per kernel size, mixed by learned weights."""

    channels: int
    kernels: tuple[int, ...] = (1, 3, 5, 7)
    stride: int = 1

    def check(self, where: str) -> None:
        require_range(f"{where}.channels", self.channels, 1, 4096)
        require(
            1 <= len(self.kernels) <= 4,
            f"{where}.kernels",
            f"needs 1 to 4 branches, got {len(self.kernels)}",
        )
        for kernel in self.kernels:
            require(
                kernel in KERNEL_SIZES,
                f"{where}.kernels",
                f"each kernel must be 1, 3, 5 or 7, got {kernel}",
            )
        require(self.stride in (1, 2), f"{where}.stride", f"must be 1 or 2, got {self.stride}")


@dataclass(frozen=True, kw_only=True)
class BranchNetConfig(ModelConfig):
    """Blocks of parallel conv branches whose outputs are mixed by softmax weights.

    The weights come from a small MLP (hidden width ``gate_hidden``) on the block input's
    per-channel mean and standard deviation, so each image picks its own mix of receptive fields
    (in the spirit of selective kernels, Li et al., 2019).

    ``zero_init_last`` starts the batch norm that ends each branch path at weight 0, so each block
    starts as its shortcut, as for ResNet. A path ends BN, activation, SE, so this is done only
    for activations that pass a gradient at 0 (all but ``relu``): a ReLU path whose pre-activation
    is exactly 0 gets no gradient and would never train.
    """

    family: Literal["branchnet"] = "branchnet"
    stem_channels: int = 32
    blocks: tuple[BranchBlock, ...]
    gate_hidden: int = 16
    se_ratio: float = 0.25
    stochastic_depth: float = 0.0
    activation: Activation = "relu"
    zero_init_last: bool = True

    def __post_init__(self) -> None:
        self._check_shape()
        require_range("stem_channels", self.stem_channels, 1, 4096)
        require(
            1 <= len(self.blocks) <= 6, "blocks", f"needs 1 to 6 blocks, got {len(self.blocks)}"
        )
        for i, block in enumerate(self.blocks):
            block.check(f"blocks[{i}]")
        require_range("gate_hidden", self.gate_hidden, 1, 1024)
        check_regularizers(self.se_ratio, self.stochastic_depth)


class BranchBlockPlan(NamedTuple):
    in_channels: int
    out_channels: int
    kernels: tuple[int, ...]
    stride: int
    project: bool
    drop_rate: float


def branchnet_blocks(cfg: BranchNetConfig) -> list[BranchBlockPlan]:
    plans = []
    in_channels = cfg.stem_channels
    for i, block in enumerate(cfg.blocks):
        plans.append(
            BranchBlockPlan(
                in_channels=in_channels,
                out_channels=block.channels,
                kernels=block.kernels,
                stride=block.stride,
                project=needs_projection(in_channels, block.channels, block.stride),
                drop_rate=stochastic_depth_rate(cfg.stochastic_depth, i, len(cfg.blocks)),
            )
        )
        in_channels = block.channels
    return plans


def count_branchnet(cfg: BranchNetConfig) -> int:
    total = conv_bn_params(cfg.in_channels, cfg.stem_channels, 3)
    cin = cfg.stem_channels
    for block in cfg.blocks:
        out, branches = block.channels, len(block.kernels)
        # Every branch: a conv+BN of its own kernel and an SE of the same width.
        total += out * cin * sum(k * k for k in block.kernels) + 2 * out * branches
        total += branches * squeeze_excitation_params(out, cfg.se_ratio)
        total += linear_params(2 * cin, cfg.gate_hidden) + linear_params(cfg.gate_hidden, branches)
        if needs_projection(cin, out, block.stride):
            total += conv_bn_params(cin, out, 1)
        cin = out
    return total + linear_params(cfg.blocks[-1].channels, cfg.num_classes)


def branchnet_flops(cfg: BranchNetConfig) -> int:
    size = conv_output_size(cfg.input_size, 3, 1)
    total = conv_flops(cfg.in_channels, cfg.stem_channels, 3, size)
    for block in branchnet_blocks(cfg):
        cin, out, branches = block.in_channels, block.out_channels, len(block.kernels)
        for kernel in block.kernels:
            out_size = conv_output_size(size, kernel, block.stride)
            total += conv_flops(cin, out, kernel, out_size)
            total += squeeze_excitation_flops(out, cfg.se_ratio)
        total += linear_flops(2 * cin, cfg.gate_hidden) + linear_flops(cfg.gate_hidden, branches)
        if block.project:
            total += conv_flops(cin, out, 1, out_size)
        size = out_size
    return total + linear_flops(cfg.blocks[-1].channels, cfg.num_classes)


def scale_branchnet(cfg: BranchNetConfig, multiplier: float) -> BranchNetConfig:
    return dataclasses.replace(
        cfg,
        stem_channels=scaled_width(cfg.stem_channels, multiplier),
        blocks=scaled_items(cfg.blocks, multiplier),
    )


def decode_branchnet(params: Mapping[str, Any]) -> BranchNetConfig:
    blocks = []
    for i in range(1, item_count(params, "num_blocks", "block") + 1):
        block = item_fields(params, "block", i, BranchBlock)
        if f"block{i}.branches" in params:
            branches = int_knob(params, f"block{i}.branches", 1, len(KERNEL_SIZES))
            block["kernels"] = [
                required_knob(params, f"block{i}.kernel{j}", f"block{i}.branches is {branches}")
                for j in range(1, branches + 1)
            ]
        block.setdefault("stride", 1 if i == 1 else 2)
        blocks.append(block)
    data = {
        **top_level(params, BranchNetConfig, {"blocks"}),
        "blocks": blocks,
    }
    return _dataclass_io.from_dict(BranchNetConfig, data)


register_family(
    Family(
        name="branchnet",
        config_class=BranchNetConfig,
        builder="archbench.models._branchnet_net:BranchNet",
        count=count_branchnet,
        scale_widths=scale_branchnet,
        decode=decode_branchnet,
        flops=branchnet_flops,
    )
)

register_presets(
    Preset(
        "branchnet_cifar",
        "The parallel-branch seed: 3 blocks of 4 parallel convs (1/3/5/7) at 64/128/256, "
        "mixed by a gate on channel statistics, SE on each path, stochastic depth 0.1.",
        {
            "family": "branchnet",
            "stem_channels": 32,
            "blocks": [
                {"channels": 64, "kernels": [1, 3, 5, 7], "stride": 1},
                {"channels": 128, "kernels": [1, 3, 5, 7], "stride": 2},
                {"channels": 256, "kernels": [1, 3, 5, 7], "stride": 2},
            ],
            "gate_hidden": 32,
            "se_ratio": 0.25,
            "stochastic_depth": 0.1,
        },
    ),
)
