"""Zero-cost scoring cost: configs scored per second, per score, against one proxy training epoch.

Draws ``--configs`` seeded feasible configs of a space under a budget (by default the setting of
issue 11: the resnet space under 1M params and 60M FLOPs on mnist5k), then, in this process:

- times every score alone (``score_config(cfg, [name])``: model build included) and the whole
  score set together (one shared gradient pass), each the best of ``--rounds`` repeats, as
  ``timeit`` takes the fastest (slower repeats measure other processes on a shared machine);
- trains each config for one epoch of the ``proxy`` recipe on the same data
  (``train_model``, validation included), once, timed around the call.

It prints configs per second and the ratio (proxy-epoch seconds / scoring seconds, summed over the
configs) per score. Goals: the whole set under 0.5 s for every config, and at least 50x cheaper
than a proxy epoch. The load average is printed too: timings on a shared machine are upper bounds.

    python benchmarks/zerocost.py [--space resnet] [--max-params 1M] [--max-flops 60M]
        [--configs 5] [--rounds 3] [--batch-size 32] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch

from archbench._units import format_count, parse_count
from archbench.budget import Budget, decide
from archbench.data import load_dataset, split_train_val
from archbench.models import ModelConfig, count_params
from archbench.spaces import DataShape, get_space
from archbench.train import get_recipe, train_model
from archbench.zerocost import (
    DEFAULT_BATCH_SIZE,
    Batch,
    list_scores,
    sample_feasible,
    score_config,
    scoring_batches,
)

DATASET = "mnist5k"
WHOLE_SET = "all scores"


def best_seconds(cfg: ModelConfig, names: list[str], batches: list[Batch], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        score_config(cfg, names, batches=batches)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--space", default="resnet")
    parser.add_argument("--max-params", default="1M")
    parser.add_argument("--max-flops", default="60M")
    parser.add_argument("--configs", type=int, default=5, help="feasible configs to compare")
    parser.add_argument("--rounds", type=int, default=3, help="scoring repeats; the best counts")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    budget = Budget(parse_count(args.max_params), parse_count(args.max_flops, "max_flops"))
    full = load_dataset(DATASET)
    recipe = dataclasses.replace(get_recipe("proxy"), epochs=1)
    train, val = split_train_val(full, recipe.val_fraction, seed=recipe.seed)
    shape = DataShape(full.num_classes, full.in_channels, full.input_size)
    pool = sample_feasible(
        get_space(args.space),
        args.configs,
        accept=lambda cfg: not decide(cfg, budget).rejected,
        shape=shape,
        seed=args.seed,
    )
    cfgs = [candidate.config for candidate in pool]
    batches = scoring_batches(train, batch_size=args.batch_size, seed=args.seed)
    sizes = ", ".join(format_count(count_params(cfg)) for cfg in cfgs)
    print(
        f"torch {torch.__version__}, cpu, {torch.get_num_threads()} threads, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {len(cfgs)} configs of "
        f"{args.space} under {format_count(budget.max_params)} params and "
        f"{format_count(budget.max_flops or 0)} FLOPs ({sizes} params); "
        f"scoring batch {args.batch_size}; proxy epoch: {len(train)} {DATASET} images, "
        f"batch {recipe.batch_size}",
        flush=True,
    )
    names = [name for name in list_scores() if name != "ensemble"]
    seconds: dict[str, list[float]] = {name: [] for name in [*names, WHOLE_SET]}
    epochs: list[float] = []
    for cfg in cfgs:
        for name in names:
            seconds[name].append(best_seconds(cfg, [name], batches, args.rounds))
        seconds[WHOLE_SET].append(best_seconds(cfg, names, batches, args.rounds))
        started = time.perf_counter()
        train_model(cfg, recipe, train_data=train, val_data=val)
        epochs.append(time.perf_counter() - started)
        print(
            f"  {format_count(count_params(cfg))} params: "
            f"all scores {seconds[WHOLE_SET][-1]:.3f} s, "
            f"proxy epoch {epochs[-1]:.1f} s, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )

    print(f"one proxy epoch: {sum(epochs) / len(epochs):.2f} s per config (mean)")
    print(f"{'score':<12} {'configs/s':>10} {'mean s':>8} {'max s':>8} {'epoch / score':>14}")
    for name, times in seconds.items():
        print(
            f"{name:<12} {len(times) / sum(times):>10.1f} {sum(times) / len(times):>8.3f} "
            f"{max(times):>8.3f} {sum(epochs) / sum(times):>13.0f}x"
        )
    whole = seconds[WHOLE_SET]
    print(
        f"whole set: max {max(whole):.3f} s per config (goal < 0.5), "
        f"{sum(epochs) / sum(whole):.0f}x cheaper than a proxy epoch (goal >= 50); "
        f"load average now {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
