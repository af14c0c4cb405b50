"""Analytic ``count_params`` vs build-and-count on the meta device.

For 2,000 seeded samples of every space: counts both ways, prints mismatches (must be 0), configs
per second of each method and the speed ratio (goal: 1000x or more). Both run in this process.

    python benchmarks/count_params.py [--samples 2000]
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from archbench.models import build_model, count_params
from archbench.spaces import get_space, list_spaces


def built_count(cfg) -> int:  # type: ignore[no-untyped-def]
    with torch.device("meta"):
        model = build_model(cfg)
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.samples} samples/space"
    )
    print(
        f"{'space':<10} {'mismatches':>10} {'analytic cfg/s':>15} "
        f"{'meta build cfg/s':>17} {'ratio':>8}"
    )
    for name in list_spaces():
        space = get_space(name)
        rng = random.Random(0)
        configs = [space.to_config(space.sample(rng)) for _ in range(args.samples)]

        start = time.perf_counter()
        analytic = [count_params(cfg) for cfg in configs]
        analytic_seconds = time.perf_counter() - start

        start = time.perf_counter()
        built = [built_count(cfg) for cfg in configs]
        built_seconds = time.perf_counter() - start

        mismatches = sum(a != b for a, b in zip(analytic, built))
        analytic_rate = len(configs) / analytic_seconds
        built_rate = len(configs) / built_seconds
        print(
            f"{name:<10} {mismatches:>10} {analytic_rate:>15,.0f} {built_rate:>17,.1f} "
            f"{analytic_rate / built_rate:>7,.0f}x"
        )


if __name__ == "__main__":
    main()
