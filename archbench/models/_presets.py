"""Reference and seed architectures, as data.

Each preset names where it comes from; ``tests/models`` checks that ``resnet18_cifar`` counts the
well-known 11,173,962 parameters of the CIFAR ResNet-18.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archbench.models._config import ModelConfig
from archbench.models._family import config_from_dict


@dataclass(frozen=True)
class Preset:
    name: str
    source: str
    config: dict[str, Any]

    def to_config(self) -> ModelConfig:
        return config_from_dict(self.config)


def _resnet_stages(depths, channels, kernel_size=3):  # type: ignore[no-untyped-def]
    return [
        {"depth": d, "channels": c, "kernel_size": kernel_size, "stride": 1 if i == 0 else 2}
        for i, (d, c) in enumerate(zip(depths, channels))
    ]


def _vgg_stages(layout):  # type: ignore[no-untyped-def]
    return [{"convs": n, "channels": c, "kernel_size": 3} for n, c in layout]


_PRESETS = [
    Preset(
        "resnet18_cifar",
        "ResNet-18 for CIFAR (He et al. 2016; the kuangliu/pytorch-cifar layout): 3x3 stem, "
        "4 stages of 2 basic blocks at 64-512, 1x1 projections. 11,173,962 params.",
        {
            "family": "resnet",
            "stem_channels": 64,
            "stages": _resnet_stages([2, 2, 2, 2], [64, 128, 256, 512]),
        },
    ),
    Preset(
        "resnet20_cifar",
        "ResNet-20 of He et al. 2016, section 4.2: 3 stages of 3 basic blocks at 16/32/64, "
        "with 1x1 projection shortcuts (option B) where shapes change.",
        {
            "family": "resnet",
            "stem_channels": 16,
            "stages": _resnet_stages([3, 3, 3], [16, 32, 64]),
        },
    ),
    Preset(
        "resnet_5m",
        "The seed of this project: the best config of a random search under a 5M cap that "
        "reached 94.6% on CIFAR-10: 3 stages of 4/4/3 basic blocks at 64/128/256, SE (ratio 1/16), "
        "1x1 skips. 4,733,610 params.",
        {
            "family": "resnet",
            "stem_channels": 64,
            "stages": _resnet_stages([4, 4, 3], [64, 128, 256]),
            "skip_kernel": 1,
            "se_ratio": 0.0625,
        },
    ),
    Preset(
        "vgg11_cifar",
        "VGG-11 with batch norm (Simonyan and Zisserman 2015, config A) with a CIFAR head: "
        "global pooling and one linear layer.",
        {
            "family": "vgg",
            "stages": _vgg_stages([(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]),
        },
    ),
    Preset(
        "vgg16_cifar",
        "VGG-16 with batch norm (Simonyan and Zisserman 2015, config D) with a CIFAR head: "
        "global pooling and one linear layer.",
        {
            "family": "vgg",
            "stages": _vgg_stages([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]),
        },
    ),
    Preset(
        "airbench94_like",
        "The net of airbench94 (Jordan 2024, arXiv:2404.00498), the fast-CIFAR speed anchor, "
        "approximated with our VGG family: 3 stages of 2 convs at 64/256/256 with batch norm, "
        "GELU and max pooling, global pooling and one linear layer (airbench has a 2x2 "
        "whitening stem, and a 3x3 max pool before its head). About 1.96M params.",
        {
            "family": "vgg",
            "stages": _vgg_stages([(2, 64), (2, 256), (2, 256)]),
            "activation": "gelu",
        },
    ),
    Preset(
        "quizdnn",
        "A small 11-layer residual net (stem, 5 basic blocks, classifier) of about 0.3M params, "
        "the quiz-sized baseline of the seed project.",
        {
            "family": "resnet",
            "stem_channels": 32,
            "stages": _resnet_stages([1, 2, 2], [32, 48, 80]),
        },
    ),
    Preset(
        "simple_cnn",
        "The classic first CNN: 3 conv layers at 32/64/128 with max pooling, a 512-wide hidden "
        "layer with dropout, then the classifier.",
        {
            "family": "vgg",
            "stages": _vgg_stages([(1, 32), (1, 64), (1, 128)]),
            "classifier": [512],
            "dropout": 0.3,
        },
    ),
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
    Preset(
        "nb201_best_cifar10",
        "The best NAS-Bench-201 cell on CIFAR-10 (index 6111, 94.37% test accuracy after 200 "
        "epochs, Dong and Yang 2020) in the benchmark's network: C 16, N 5. 1,073,466 params.",
        {
            "family": "nb201",
            "arch": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
            "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
        },
    ),
    Preset(
        "nb201_resnet",
        "The NAS-Bench-201 cell that makes the benchmark's network a ResNet (index 11472: "
        "node 3 = x + conv3x3(conv3x3(x)); 93.91% on CIFAR-10 after 200 epochs).",
        {
            "family": "nb201",
            "arch": "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|"
            "+|skip_connect~0|none~1|skip_connect~2|",
        },
    ),
]

PRESETS: dict[str, Preset] = {preset.name: preset for preset in _PRESETS}


def list_presets() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> ModelConfig:
    """The config of a preset.

    Raises:
        ValueError: for an unknown name, listing the presets.
    """
    try:
        return PRESETS[name].to_config()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}") from None
