"""Which proxy recipe trains the thin, deep nets of a FLOPs-capped search in one epoch?

Draws seeded feasible configs of a space under a budget (the setting of issue 11: resnet, 1M
params, 60M FLOPs, mnist5k, 1 epoch), trains every config with every candidate (a recipe plus
``zero_init_last`` on or off, same seed), and prints per candidate the share of configs that end
below 20% validation accuracy (diverged), the mean and median accuracy and the wall time. The
first candidate is the baseline (the shipped recipe before issue 11). Per-run rows go to
``--out`` as JSON lines, so a long run can be read while it goes, and a rerun with the same
``--out`` skips the runs already there (resume).

    python benchmarks/proxy_recipes.py [--configs 24] [--out proxy_recipes.jsonl]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import time
from typing import Any

from archbench.budget import Budget, decide
from archbench.data import load_dataset, split_train_val
from archbench.spaces import DataShape, get_space
from archbench.train import NonFiniteLossError, TrainRecipe, train_model

DIVERGED = 0.2

_PROXY_BEFORE = TrainRecipe(
    optimizer="sgd_nesterov",
    lr=0.1,
    weight_decay=5e-4,
    batch_size=64,
    epochs=1,
    schedule="onecycle",
)
# name -> (recipe, zero_init_last)
CANDIDATES: dict[str, tuple[TrainRecipe, bool]] = {
    "before: lr 0.1 onecycle": (_PROXY_BEFORE, False),
    "zero-init": (_PROXY_BEFORE, True),
    "zero-init + clip 1": (dataclasses.replace(_PROXY_BEFORE, grad_clip=1.0), True),
    "zero-init + lr 0.05": (dataclasses.replace(_PROXY_BEFORE, lr=0.05), True),
    "zero-init + lr 0.05 + clip 1": (
        dataclasses.replace(_PROXY_BEFORE, lr=0.05, grad_clip=1.0),
        True,
    ),
    # Twice the steps in the same epoch: the thin deep nets that end low are slow, not unstable.
    "zero-init + batch 32": (dataclasses.replace(_PROXY_BEFORE, batch_size=32), True),
    "zero-init + lr 0.2": (dataclasses.replace(_PROXY_BEFORE, lr=0.2), True),
    "zero-init + batch 32 + clip 1": (
        dataclasses.replace(_PROXY_BEFORE, batch_size=32, grad_clip=1.0),
        True,
    ),
}


def feasible_configs(
    n: int, seed: int, family: str = "resnet", max_flops: int = 60_000_000
) -> list[Any]:
    """``n`` seeded configs of a built-in space under 1M params and ``max_flops`` on mnist5k."""
    space = get_space(family)
    budget = Budget(max_params=1_000_000, max_flops=max_flops)
    shape = DataShape(10, 1, 28)
    rng = random.Random(seed)
    configs = []
    while len(configs) < n:
        decision = decide(space.to_config(space.sample(rng), shape), budget)
        if not decision.rejected:
            configs.append(decision.config)
    return configs


def read_rows(path: str) -> list[dict[str, Any]]:
    try:
        with open(path) as rows:
            return [json.loads(line) for line in rows if line.strip()]
    except FileNotFoundError:
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", default="all", help="comma-separated names, or all")
    parser.add_argument("--out", default="proxy_recipes.jsonl")
    args = parser.parse_args()
    names = list(CANDIDATES) if args.candidates == "all" else args.candidates.split(",")
    full = load_dataset("mnist5k", "train")
    train, val = split_train_val(full, val_fraction=0.1, seed=0)
    results: dict[str, list[float]] = {name: [] for name in names}
    seconds: dict[str, float] = dict.fromkeys(names, 0.0)
    done = {(row["config"], row["candidate"]): row for row in read_rows(args.out)}
    with open(args.out, "a") as out:
        for index, cfg in enumerate(feasible_configs(args.configs, args.seed)):
            for name in names:
                if (index, name) in done:
                    results[name].append(done[index, name]["val_accuracy"])
                    seconds[name] += done[index, name]["seconds"]
                    continue
                recipe, zero_init = CANDIDATES[name]
                started = time.perf_counter()
                try:
                    accuracy = train_model(
                        dataclasses.replace(cfg, zero_init_last=zero_init),
                        recipe,
                        train_data=train,
                        val_data=val,
                    ).best_val_accuracy
                except NonFiniteLossError:
                    accuracy = 0.0
                elapsed = time.perf_counter() - started
                results[name].append(accuracy)
                seconds[name] += elapsed
                row = {
                    "config": index,
                    "candidate": name,
                    "val_accuracy": accuracy,
                    "seconds": elapsed,
                    "model": cfg.to_dict(),
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"config {index:>2} {name:<30} {accuracy:6.1%} {elapsed:6.1f}s", flush=True)
    print(f"\n{'candidate':<30} {'diverged':>9} {'mean acc':>9} {'median':>8} {'seconds':>8}")
    for name in names:
        accs = results[name]
        diverged = sum(a < DIVERGED for a in accs)
        print(
            f"{name:<30} {diverged:>3}/{len(accs):<5} {statistics.mean(accs):>9.1%} "
            f"{statistics.median(accs):>8.1%} {seconds[name]:>8.0f}"
        )


if __name__ == "__main__":
    main()
