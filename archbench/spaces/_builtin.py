"""The built-in spaces: ``resnet``, ``vgg``, ``branchnet`` and ``nb201``.

``resnet`` contains the space of the random search that reached 94.6% on CIFAR-10 under 5M
parameters and inspired archbench: number of residual stages, blocks per stage, channels per stage,
conv kernel size, skip-connection kernel size and the average-pool kernel before the classifier.
"""

from __future__ import annotations

import dataclasses

from archbench.models._nb201 import EDGE_KNOBS, OPS
from archbench.spaces._base import SearchSpace
from archbench.spaces._params import ActiveIf, ChoiceParam, IntParam, Param

CHANNELS = (16, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def _per_stage(
    prefix: str, count_param: str, count: int, knobs: dict[str, Param]
) -> dict[str, Param]:
    """Per-stage knobs ``{prefix}{i}.{knob}``, each active while the count reaches stage i."""
    params: dict[str, Param] = {}
    for i in range(1, count + 1):
        condition = ActiveIf(count_param, tuple(range(i, count + 1))) if i > 1 else None
        for knob, param in knobs.items():
            params[f"{prefix}{i}.{knob}"] = dataclasses.replace(param, active_if=condition)
    return params


def resnet_space() -> SearchSpace:
    params: dict[str, Param] = {
        "stem_channels": ChoiceParam((16, 32, 64)),
        "num_stages": IntParam(1, 5),
        **_per_stage(
            "stage",
            "num_stages",
            5,
            {
                "depth": IntParam(1, 8),
                "channels": ChoiceParam(CHANNELS),
                "kernel_size": ChoiceParam((3, 5, 7)),
            },
        ),
        "block": ChoiceParam(("basic", "bottleneck")),
        "skip_kernel": ChoiceParam((1, 3)),
        "pool": ChoiceParam(("avg", "max")),
        "pool_kernel": ChoiceParam((0, 1, 2, 4, 8)),
        "se_ratio": ChoiceParam((0.0, 0.0625, 0.25)),
        "stochastic_depth": ChoiceParam((0.0, 0.05, 0.1, 0.2)),
        "activation": ChoiceParam(("relu", "silu")),
    }
    return SearchSpace(
        "resnet",
        "resnet",
        params,
        "CIFAR ResNets: 1-5 stages of 1-8 basic or bottleneck blocks; per-stage channels and "
        "kernel; skip kernel; head pooling kernel (0 = global); SE; stochastic depth.",
    )


def vgg_space() -> SearchSpace:
    params: dict[str, Param] = {
        "num_stages": IntParam(1, 6),
        **_per_stage(
            "stage",
            "num_stages",
            6,
            {
                "convs": IntParam(1, 4),
                "channels": ChoiceParam(CHANNELS),
                "kernel_size": ChoiceParam((3, 5)),
            },
        ),
        "batch_norm": ChoiceParam((True, False)),
        "pool": ChoiceParam(("max", "avg")),
        "num_hidden": IntParam(0, 2),
        "hidden1.width": ChoiceParam((128, 256, 512, 1024), ActiveIf("num_hidden", (1, 2))),
        "hidden2.width": ChoiceParam((128, 256, 512, 1024), ActiveIf("num_hidden", (2,))),
        "dropout": ChoiceParam((0.0, 0.25, 0.5)),
        "activation": ChoiceParam(("relu", "silu")),
    }
    return SearchSpace(
        "vgg",
        "vgg",
        params,
        "Plain VGG nets: 1-6 stages of 1-4 convs with per-stage channels and kernel, BN on or off, "
        "max or avg pooling, 0-2 hidden classifier layers with dropout.",
    )


def branchnet_space() -> SearchSpace:
    params: dict[str, Param] = {
        "stem_channels": ChoiceParam((16, 32, 64)),
        "num_blocks": IntParam(1, 6),
    }
    for i in range(1, 7):
        block_active = ActiveIf("num_blocks", tuple(range(i, 7))) if i > 1 else None
        params[f"block{i}.channels"] = ChoiceParam(CHANNELS[:8], block_active)
        params[f"block{i}.stride"] = ChoiceParam((1, 2) if i > 1 else (1,), block_active)
        params[f"block{i}.branches"] = IntParam(1, 4, active_if=block_active)
        for j in range(1, 5):
            params[f"block{i}.kernel{j}"] = ChoiceParam(
                (1, 3, 5, 7), ActiveIf(f"block{i}.branches", tuple(range(j, 5)))
            )
    params.update(
        {
            "gate_hidden": ChoiceParam((8, 16, 32)),
            "se_ratio": ChoiceParam((0.0, 0.0625, 0.25)),
            "stochastic_depth": ChoiceParam((0.0, 0.05, 0.1, 0.2)),
        }
    )
    return SearchSpace(
        "branchnet",
        "branchnet",
        params,
        "Parallel-branch nets: 1-6 blocks of 1-4 conv branches (kernel 1/3/5/7 each) mixed by a "
        "gate on channel statistics; per-block channels and stride; SE; stochastic depth.",
    )


def nb201_space() -> SearchSpace:
    """NAS-Bench-201's 15,625 cells (Dong and Yang, ICLR 2020): one of 5 ops on each of 6 edges."""
    return SearchSpace(
        "nb201",
        "nb201",
        {knob: ChoiceParam(OPS) for knob in EDGE_KNOBS},
        "NAS-Bench-201 cells in the benchmark's network (C 16, N 5): one of none, skip_connect, "
        "nor_conv_1x1, nor_conv_3x3, avg_pool_3x3 on each edge edge_{source}_{target} of a "
        "4-node cell; 15,625 configs.",
    )
