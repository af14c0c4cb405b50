"""Does a tight budget stop a TPE search? archbench's TPE with and without its random fallback.

archbench's TPE models only trained trials (``FeasibleTPESampler``), so where its model points
over the budget it can propose rejected configs until ``--max-rejections`` in a row stops the
search; since the fallback, after ``TPE_RANDOM_AFTER_REJECTIONS`` rejections since the last
trained trial it proposes at random until a config trains. Each search here is a real
``archbench.search.run`` on the NAS-Bench-201 table (``--benchmark nb201``: a lookup per
trial, no training), so the stop policy, the budget and the storage are the product's.

Printed per cap and setting, over ``--seeds``: the searches that reached ``--trials`` trained
trials, the mean trained trials and rejections, and the mean best accuracy (of the trials a
stopped search had trained). The accuracy is NAS-Bench-201's CIFAR-10 test accuracy.

    python benchmarks/tpe_stall.py [--caps 150k,300k] [--seeds 10] [--trials 30]
        [--max-rejections 40]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import optuna

import archbench.search._samplers as samplers
from archbench._units import parse_count
from archbench.budget import Budget
from archbench.search import SearchAborted, SearchSettings, run, study_name

SETTINGS = {"fallback off": 10**9, "fallback (default)": samplers.TPE_RANDOM_AFTER_REJECTIONS}


def one_search(cap: int, seed: int, trials: int, max_rejections: int) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="tpe-stall-")
    settings = SearchSettings(
        space="nb201", budget=Budget(max_params=cap), n_trials=trials, benchmark="nb201",
        dataset="cifar10", storage=f"sqlite:///{folder}/s.db", seed=seed,
        max_rejections=max_rejections,
    )  # fmt: skip
    try:
        run(settings)
        completed = 1.0
    except SearchAborted:
        completed = 0.0
    study = optuna.load_study(study_name=study_name(settings), storage=settings.storage)
    trained = [t.value for t in study.trials if t.user_attrs.get("status") == "trained"]
    rejected = sum(t.user_attrs.get("status") == "rejected" for t in study.trials)
    return {
        "completed": completed, "trained": len(trained), "rejected": rejected,
        "best": max(v for v in trained if v is not None),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--caps", default="150k,300k", help="parameter caps, comma-separated")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=30, help="trained trials per search")
    parser.add_argument("--max-rejections", type=int, default=40, help="rejections in a row")
    args = parser.parse_args()
    print(
        f"nb201 table, CIFAR-10, {args.trials} trials, --max-rejections {args.max_rejections}, "
        f"seeds 0-{args.seeds - 1}"
    )
    print(
        f"{'cap':>6} {'setting':<20} {'completed':>9} {'trained':>8} {'rejected':>9} "
        f"{'best %':>7} {'s':>6}"
    )
    for cap_text in args.caps.split(","):
        cap = parse_count(cap_text, "cap")
        for name, after in SETTINGS.items():
            samplers.TPE_RANDOM_AFTER_REJECTIONS = after  # read by each new sampler
            started = time.perf_counter()
            runs = [
                one_search(cap, seed, args.trials, args.max_rejections)
                for seed in range(args.seeds)
            ]
            print(
                f"{cap_text:>6} {name:<20} "
                f"{sum(r['completed'] for r in runs):>5.0f}/{args.seeds:<3} "
                f"{statistics.mean(r['trained'] for r in runs):>8.1f} "
                f"{statistics.mean(r['rejected'] for r in runs):>9.1f} "
                f"{100 * statistics.mean(r['best'] for r in runs):>7.2f} "
                f"{time.perf_counter() - started:>6.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
