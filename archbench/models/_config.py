"""Typed, frozen model configs for the three families (ResNet, VGG, BranchNet).

A config is plain data: it round-trips through dicts, YAML and JSON, and it is everything the
builder (``build_model``) and the analytic counter (``count_params``) need. This module imports
no torch, so spaces and the budget check stay cheap.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from archbench import _dataclass_io

Activation = Literal["relu", "silu", "gelu", "hardswish", "leaky_relu"]
PoolType = Literal["avg", "max"]
KERNEL_SIZES = (1, 3, 5, 7)


def _require(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{field_name}: {message}")


def _require_range(field_name: str, value: float, low: float, high: float) -> None:
    _require(low <= value <= high, field_name, f"must be in [{low}, {high}], got {value}")


def _check_regularizers(se_ratio: float, stochastic_depth: float) -> None:
    _require_range("se_ratio", se_ratio, 0.0, 1.0)
    _require(
        0.0 <= stochastic_depth < 1.0,
        "stochastic_depth",
        f"must be in [0, 1), got {stochastic_depth}",
    )


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The base of every family's config: the input and output shape, which the data set decides.

    Each family's subclass adds a ``family`` field whose default is the name it is registered
    under (``models/_family.py``) and its own architecture fields.
    """

    num_classes: int = 10
    in_channels: int = 3
    input_size: int = 32

    def _check_shape(self) -> None:
        _require(self.num_classes >= 2, "num_classes", f"must be >= 2, got {self.num_classes}")
        _require(self.in_channels >= 1, "in_channels", f"must be >= 1, got {self.in_channels}")
        _require_range("input_size", self.input_size, 8, 512)

    @property
    def family(self) -> str:
        raise NotImplementedError  # a dataclass field in every subclass

    def to_dict(self) -> dict[str, Any]:
        return _dataclass_io.to_dict(self)

    def with_data(self, *, num_classes: int, in_channels: int, input_size: int) -> ModelConfig:
        """The same architecture adapted to a data set's shape (stem and head change)."""
        return dataclasses.replace(
            self, num_classes=num_classes, in_channels=in_channels, input_size=input_size
        )


@dataclass(frozen=True)
class ResNetStage:
    """One ResNet stage: ``depth`` residual blocks whose first block applies ``stride``."""

    depth: int
    channels: int
    kernel_size: int = 3
    stride: int = 1

    def check(self, where: str) -> None:
        _require_range(f"{where}.depth", self.depth, 1, 8)
        _require_range(f"{where}.channels", self.channels, 1, 4096)
        _require(
            self.kernel_size in (3, 5, 7),
            f"{where}.kernel_size",
            f"must be 3, 5 or 7, got {self.kernel_size}",
        )
        _require(self.stride in (1, 2), f"{where}.stride", f"must be 1 or 2, got {self.stride}")


@dataclass(frozen=True, kw_only=True)
class ResNetConfig(ModelConfig):
    """A CIFAR-style ResNet (He et al., 2016) with the knobs of a budgeted random search.

    ``pool_kernel`` 0 means global pooling before the classifier; a positive kernel pools with that
    kernel and stride (clipped to the feature map) and flattens what remains, so it changes the
    classifier's width. ``se_ratio`` 0 disables squeeze-and-excitation (Hu et al., 2018).
    ``zero_init_last`` starts the last batch norm of every residual branch at weight 0, so each
    block starts as its shortcut (Goyal et al., 2017; torchvision's ``zero_init_residual``, timm's
    ``zero_init_last``): thin, deep nets then train at a proxy's high learning rate.
    """

    family: Literal["resnet"] = "resnet"
    stem_channels: int = 64
    stem_kernel: int = 3
    stages: tuple[ResNetStage, ...]
    block: Literal["basic", "bottleneck"] = "basic"
    skip_kernel: int = 1
    always_project: bool = False
    pool: PoolType = "avg"
    pool_kernel: int = 0
    se_ratio: float = 0.0
    stochastic_depth: float = 0.0
    activation: Activation = "relu"
    zero_init_last: bool = True

    def __post_init__(self) -> None:
        self._check_shape()
        _require_range("stem_channels", self.stem_channels, 1, 4096)
        _require(
            self.stem_kernel in (3, 5, 7),
            "stem_kernel",
            f"must be 3, 5 or 7, got {self.stem_kernel}",
        )
        _require(
            1 <= len(self.stages) <= 5, "stages", f"needs 1 to 5 stages, got {len(self.stages)}"
        )
        for i, stage in enumerate(self.stages):
            stage.check(f"stages[{i}]")
            if self.block == "bottleneck":
                _require(
                    stage.channels % 4 == 0,
                    f"stages[{i}].channels",
                    f"must be a multiple of 4 for bottleneck blocks, got {stage.channels}",
                )
        _require(
            self.skip_kernel in (1, 3), "skip_kernel", f"must be 1 or 3, got {self.skip_kernel}"
        )
        _require(
            self.pool_kernel >= 0,
            "pool_kernel",
            f"must be >= 0 (0 = global), got {self.pool_kernel}",
        )
        _check_regularizers(self.se_ratio, self.stochastic_depth)


@dataclass(frozen=True)
class VGGStage:
    """One VGG stage: ``convs`` 'same' convolutions followed by a 2x2 pooling."""

    convs: int
    channels: int
    kernel_size: int = 3

    def check(self, where: str) -> None:
        _require_range(f"{where}.convs", self.convs, 1, 4)
        _require_range(f"{where}.channels", self.channels, 1, 4096)
        _require(
            self.kernel_size in (1, 3, 5, 7),
            f"{where}.kernel_size",
            f"must be 1, 3, 5 or 7, got {self.kernel_size}",
        )


@dataclass(frozen=True, kw_only=True)
class VGGConfig(ModelConfig):
    """A VGG-style plain network (Simonyan and Zisserman, 2015) with a CIFAR head."""

    family: Literal["vgg"] = "vgg"
    stages: tuple[VGGStage, ...]
    batch_norm: bool = True
    pool: PoolType = "max"
    classifier: tuple[int, ...] = ()
    dropout: float = 0.0
    activation: Activation = "relu"

    def __post_init__(self) -> None:
        self._check_shape()
        _require(
            1 <= len(self.stages) <= 6, "stages", f"needs 1 to 6 stages, got {len(self.stages)}"
        )
        for i, stage in enumerate(self.stages):
            stage.check(f"stages[{i}]")
        _require(len(self.classifier) <= 3, "classifier", "at most 3 hidden layers")
        for i, width in enumerate(self.classifier):
            _require_range(f"classifier[{i}]", width, 1, 8192)
        _require(0.0 <= self.dropout < 1.0, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class BranchBlock:
    """One parallel-branch block: a conv branch per kernel size, mixed by learned weights."""

    channels: int
    kernels: tuple[int, ...] = (1, 3, 5, 7)
    stride: int = 1

    def check(self, where: str) -> None:
        _require_range(f"{where}.channels", self.channels, 1, 4096)
        _require(
            1 <= len(self.kernels) <= 4,
            f"{where}.kernels",
            f"needs 1 to 4 branches, got {len(self.kernels)}",
        )
        for kernel in self.kernels:
            _require(
                kernel in KERNEL_SIZES,
                f"{where}.kernels",
                f"each kernel must be 1, 3, 5 or 7, got {kernel}",
            )
        _require(self.stride in (1, 2), f"{where}.stride", f"must be 1 or 2, got {self.stride}")


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
        _require_range("stem_channels", self.stem_channels, 1, 4096)
        _require(
            1 <= len(self.blocks) <= 6, "blocks", f"needs 1 to 6 blocks, got {len(self.blocks)}"
        )
        for i, block in enumerate(self.blocks):
            block.check(f"blocks[{i}]")
        _require_range("gate_hidden", self.gate_hidden, 1, 1024)
        _check_regularizers(self.se_ratio, self.stochastic_depth)


def save_config(config: ModelConfig, path: str | Path) -> Path:
    """Writes a config as YAML, or JSON when the suffix is ``.json``."""
    return _dataclass_io.write_mapping(config.to_dict(), path)


__all__ = [
    "BranchBlock",
    "BranchNetConfig",
    "ModelConfig",
    "ResNetConfig",
    "ResNetStage",
    "VGGConfig",
    "VGGStage",
    "save_config",
]
