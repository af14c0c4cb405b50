"""How should budget rejections inform TPE? Sampler options on a surrogate objective.

Each option runs a search loop like ``archbench search``: ``suggest`` from the space, the exact
budget check (``decide``), a rejection stored PRUNED with its positive constraints, until
``--trials`` configs passed the budget. Training is replaced by a free surrogate value, the
share of the FLOPs cap a config uses: capacity near the budget boundary, where the feasible
configs are rare. It isolates what the sampler learns from rejections, at no training cost;
``benchmarks/search_quality.py`` measures real accuracy.

Printed per option, over ``--seeds``: the mean best surrogate value (with its range), the share
of trained configs that are single-stage (the region plain TPE got stuck in, issue 11), the
distinct configs among the trained ones, rejections per trained trial, and seconds per search.

    python benchmarks/sampler_rejections.py [--trials 10] [--seeds 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from archbench.budget import Budget, decide
from archbench.models import build_and_count_flops
from archbench.search import suggest
from archbench.search._samplers import FeasibleTPESampler
from archbench.spaces import DataShape, get_space

BUDGET = Budget(max_params=1_000_000, max_flops=60_000_000)
SHAPE = DataShape(10, 1, 28)

OPTIONS: dict[str, Callable[[int, int], optuna.samplers.BaseSampler]] = {
    "random": lambda seed, startup: optuna.samplers.RandomSampler(seed=seed),
    "tpe before: sees rejections": lambda seed, startup: optuna.samplers.TPESampler(
        seed=seed, multivariate=True, group=True, n_startup_trials=startup
    ),
    "tpe: rejections hidden": lambda seed, startup: FeasibleTPESampler(
        seed=seed, multivariate=True, group=True, n_startup_trials=startup
    ),
}


def run_search(sampler: optuna.samplers.BaseSampler, trials: int) -> dict[str, float]:
    space = get_space("resnet")
    study = optuna.create_study(direction="maximize", sampler=sampler)
    started = time.perf_counter()
    trained, rejected = [], 0
    while len(trained) < trials:
        trial = study.ask()
        decision = decide(space.to_config(suggest(trial, space), SHAPE), BUDGET)
        for key, value in decision.constraints.items():
            trial.set_constraint(key, value)
        if decision.rejected:
            rejected += 1
            study.tell(trial, state=TrialState.PRUNED)
            continue
        value = build_and_count_flops(decision.config).flops / BUDGET.max_flops  # type: ignore[operator]
        trained.append((value, decision.config))
        study.tell(trial, value)
    return {
        "best": max(v for v, _ in trained),
        "single_stage": sum(len(c.stages) == 1 for _, c in trained) / trials,
        "distinct": len({c for _, c in trained}) / trials,
        "rejections": rejected / trials,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10, help="trained trials per search")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--startup", type=int, default=10, help="TPE's n_startup_trials")
    parser.add_argument("--options", default=",".join(OPTIONS), help="comma-separated names")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    print(f"{args.trials} trained trials, seeds 1-{args.seeds}, n_startup_trials {args.startup}")
    print(
        f"{'option':<30} {'best (mean, range)':>20} {'single-stage':>12} {'distinct':>8} "
        f"{'rejections/trained':>18} {'s/search':>8}"
    )
    for name in args.options.split(","):
        make = OPTIONS[name]
        runs = [
            run_search(make(seed, args.startup), args.trials) for seed in range(1, args.seeds + 1)
        ]
        best = [r["best"] for r in runs]
        print(
            f"{name:<30} {statistics.mean(best):>7.3f} ({min(best):.2f}-{max(best):.2f}) "
            f"{statistics.mean(r['single_stage'] for r in runs):>12.0%} "
            f"{statistics.mean(r['distinct'] for r in runs):>8.0%} "
            f"{statistics.mean(r['rejections'] for r in runs):>18.1f} "
            f"{statistics.mean(r['seconds'] for r in runs):>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
