"""Does the sampler pick good configs? Search strategies compared at a reference budget.

The setting of issue 11: the resnet space under 1M params and 60M FLOPs on mnist5k, a 1-epoch
proxy (``--dataset``, ``--max-params``, ``--max-flops`` and ``--subset`` change it; issue 22 runs
it on a CIFAR-10 JPEG archive made by ``benchmarks/cifar_subset.py``), ``--trials`` trained
trials per search, every strategy over the same seeds. For each
strategy it prints:

- the share of trained configs that end below 20% validation accuracy (diverged);
- the search's best config retrained at the reference budget (``--reference-epochs`` on the
  whole training split, ``--reference-seeds`` seeds): mean and spread of test accuracy;
- wall time of the searches (prescreen scoring included: it runs inside ``archbench search``,
  and its share is printed too) and of the retraining.

Everything goes through the CLI (``archbench search``, ``results --json``, ``train --json``),
so it measures what a user gets. Studies live in ``--out``/search_quality.db and retrained runs
in ``--out``/retrain: rerunning the same command resumes and retrains nothing twice. A strategy
is one entry of ``STRATEGIES``: its extra ``archbench search`` arguments. ``tpe+prescreen``
scores ``PRESCREEN`` feasible configs with ``--prescreen-score`` and trains the best quarter first.

    python benchmarks/search_quality.py [--seeds 1,2,3] [--trials 10] [--out runs/search_quality]
        [--dataset mnist5k] [--max-params 1M] [--max-flops 60M] [--subset 1.0]
        [--strategies random,tpe,tpe+prescreen] [--prescreen-score synflow]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

PRESCREEN = 200
STRATEGIES: dict[str, list[str]] = {
    "random": ["--sampler", "random"],
    "tpe": ["--sampler", "tpe"],
    "tpe+prescreen": ["--sampler", "tpe", "--prescreen", str(PRESCREEN), "--zero-cost", "{score}"],
}
SETTING = [
    "--space", "resnet", "--epochs", "1", "--profile", "none", "--pruner", "none",
    "--device", "cpu",
]  # fmt: skip
DIVERGED = 0.2


def archbench(*args: str) -> Any:
    """Runs one CLI command with ``--json`` and returns its document."""
    done = subprocess.run(["archbench", *args, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"archbench {' '.join(args)} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout)


def search(
    strategy: str, seed: int, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], float, float]:
    """Runs (or resumes) one search; returns its trained trials, the seconds it took and the
    seconds of its prescreen scoring (part of the former; 0 without prescreening)."""
    storage = f"sqlite:///{args.out / 'search_quality.db'}"
    extra = [arg.format(score=args.prescreen_score) for arg in STRATEGIES[strategy]]
    name = strategy if "--prescreen" not in extra else f"{strategy}-{args.prescreen_score}"
    study = f"{name}-seed{seed}-trials{args.trials}"
    started = time.perf_counter()
    summary = archbench(
        "search", *SETTING, *extra, "--trials", str(args.trials), "--dataset", args.dataset,
        "--max-params", args.max_params, "--max-flops", args.max_flops,
        "--subset", str(args.subset),
        "--seed", str(seed), "--storage", storage, "--study", study, "--quiet",
    )  # fmt: skip
    seconds = time.perf_counter() - started
    scoring = (summary.get("prescreen") or {}).get("seconds", 0.0)
    board = archbench("results", "--storage", storage, "--study", study, "--top", "100000")
    trained = [t for t in board["trials"] if t["status"] in ("trained", "pruned")]
    return trained, seconds, scoring


def retrain(config: dict[str, Any], name: str, seed: int, args: argparse.Namespace) -> float:
    """Test accuracy of ``config`` trained at the reference budget; cached in its run folder."""
    run = args.out / "retrain" / f"{name}-seed{seed}"
    summary_file = run / "summary.json"
    if summary_file.exists():
        return float(json.loads(summary_file.read_text())["test_accuracy"])
    run.mkdir(parents=True, exist_ok=True)
    config_file = run.with_suffix(".yaml")
    config_file.write_text(yaml.safe_dump(config))
    summary = archbench(
        "train", str(config_file), "--recipe", "proxy", "--dataset", args.dataset,
        "--epochs", str(args.reference_epochs), "--seed", str(seed), "--device", "cpu",
        "--out", str(run),
    )  # fmt: skip
    summary_file.write_text(json.dumps(summary))
    return float(summary["test_accuracy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument(
        "--dataset", default="mnist5k", help="a data set name, or an image folder or archive"
    )
    parser.add_argument("--max-params", default="1M")
    parser.add_argument("--max-flops", default="60M")
    parser.add_argument("--subset", type=float, default=1.0, help="proxy's share of train")
    parser.add_argument("--reference-epochs", type=int, default=4)
    parser.add_argument("--reference-seeds", type=int, default=2)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument(
        "--prescreen-score", default="synflow", help="zero-cost score of tpe+prescreen"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/search_quality"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for strategy in args.strategies.split(","):
        accuracies, reference, search_seconds, retrain_seconds = [], [], 0.0, 0.0
        scoring_seconds = 0.0
        for seed in seeds:
            trained, seconds, scoring = search(strategy, seed, args)
            search_seconds += seconds
            scoring_seconds += scoring
            accuracies += [t["val_accuracy"] for t in trained]
            best = max(trained, key=lambda t: t["val_accuracy"])
            started = time.perf_counter()
            picks = [
                retrain(best["config"], f"{strategy}-seed{seed}-trial{best['number']}", s, args)
                for s in range(args.reference_seeds)
            ]
            retrain_seconds += time.perf_counter() - started
            reference.append(statistics.mean(picks))
            print(
                f"{strategy} seed {seed}: best proxy {best['val_accuracy']:.1%} (trial "
                f"{best['number']}), reference {', '.join(f'{p:.1%}' for p in picks)}; "
                f"{sum(a < DIVERGED for a in accuracies[-len(trained) :])}/{len(trained)} "
                f"diverged; search {seconds:.0f} s (scoring {scoring:.0f} s)",
                flush=True,
            )
        rows.append(
            (strategy, accuracies, reference, search_seconds, scoring_seconds, retrain_seconds)
        )
    print(
        f"\n{'strategy':<14} {'diverged':>10} {'reference mean':>15} {'spread':>14} "
        f"{'search s':>9} {'of it scoring':>14} {'retrain s':>10}"
    )
    for strategy, accuracies, reference, search_seconds, scoring_seconds, retrain_seconds in rows:
        diverged = sum(a < DIVERGED for a in accuracies)
        print(
            f"{strategy:<14} {diverged:>3}/{len(accuracies):<3}{diverged / len(accuracies):>4.0%} "
            f"{statistics.mean(reference):>15.2%} {min(reference):>6.1%}-{max(reference):<6.1%} "
            f"{search_seconds:>9.0f} {scoring_seconds:>14.0f} {retrain_seconds:>10.0f}"
        )


if __name__ == "__main__":
    main()
