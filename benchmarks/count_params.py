"""Analytic counting vs counting on a model built on the meta device.

For seeded samples of every space, in this process:

- ``count_params`` against building and summing the parameters (2,000 samples per space);
- ``forward_flops`` against torch's ``FlopCounterMode`` on a meta-device forward (200 samples per
  space: the counter is slow).

It prints mismatches (must be 0), configs per second of each method and the speed ratio (goal:
1000x or more).

    python benchmarks/count_params.py [--samples 2000] [--flops-samples 200]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

import torch

from archbench.models import ModelConfig, build_model, count_params, forward_flops
from archbench.models._meta_flops import build_and_count_forward_flops
from archbench.spaces import get_space, list_spaces


def built_count(cfg: ModelConfig) -> int:
    with torch.device("meta"):
        model = build_model(cfg)
    return sum(p.numel() for p in model.parameters())


def timed(
    count: Callable[[ModelConfig], int], configs: list[ModelConfig]
) -> tuple[list[int], float]:
    """The counts and configs per second."""
    start = time.perf_counter()
    counts = [count(cfg) for cfg in configs]
    return counts, len(configs) / (time.perf_counter() - start)


def compare(
    what: str,
    analytic: Callable[[ModelConfig], int],
    built: Callable[[ModelConfig], Any],
    samples: int,
) -> None:
    print(f"{what}, {samples} samples/space")
    print(
        f"{'space':<10} {'mismatches':>10} {'analytic cfg/s':>15} {'meta cfg/s':>11} {'ratio':>8}"
    )
    for name in list_spaces():
        space = get_space(name)
        rng = random.Random(0)
        configs = [space.to_config(space.sample(rng)) for _ in range(samples)]
        exact, analytic_rate = timed(analytic, configs)
        measured, built_rate = timed(built, configs)
        mismatches = sum(a != b for a, b in zip(exact, measured))
        print(
            f"{name:<10} {mismatches:>10} {analytic_rate:>15,.0f} {built_rate:>11,.1f} "
            f"{analytic_rate / built_rate:>7,.0f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--flops-samples", type=int, default=200)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    compare("parameters", count_params, built_count, args.samples)
    compare("forward FLOPs", forward_flops, build_and_count_forward_flops, args.flops_samples)


if __name__ == "__main__":
    main()
