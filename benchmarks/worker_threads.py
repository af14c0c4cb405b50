"""``--workers N`` on a CPU: N trials at once, each with torch's own thread count or a share.

A spawned search worker used to start torch with a thread per core, so N workers ran N threads
per core. The search now starts each with ``OMP_NUM_THREADS`` = cores // N
(``_threads_per_worker`` in ``archbench/search/_optuna_backend.py``). This runs N copies of the same
proxy trial (``quizdnn`` on mnist5k, CPU, no profile) at once, both ways, interleaved, and
prints the wall time of the N and the ratio: above 1, the split is faster.

    python benchmarks/worker_threads.py [--workers 2] [--repeats 3] [--epochs 1] [--subset 0.2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from typing import Any

from archbench.budget import Budget
from archbench.gpus import environment
from archbench.models import get_preset
from archbench.search import SearchSettings
from archbench.search._optuna_backend import _threads_per_worker


def _trial(settings: SearchSettings, results: Any) -> None:
    """One inline trial through the search's trial runner, as a worker runs it."""
    import torch

    from archbench.evaluators import TrialRunner
    from archbench.search import TrialContext

    cfg = get_preset("quizdnn").with_data(num_classes=10, in_channels=1, input_size=28)
    training = TrialContext.of(settings).proxy_training()
    runner = TrialRunner(training, settings.epoch_timeout_seconds)
    training.trial_data()  # loaded once per worker, before its trials
    runner.run(cfg, lambda epoch, metrics: None, lambda: False)
    results.put(torch.get_num_threads())


def _together(settings: SearchSettings, workers: int, threads: str | None) -> tuple[float, int]:
    """Wall seconds of ``workers`` trials started at once, and the threads each one used."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_trial, args=(settings, results)) for _ in range(workers)]
    started = time.perf_counter()
    with environment(OMP_NUM_THREADS=threads):
        for process in processes:
            process.start()
    for process in processes:
        process.join()
    seconds = time.perf_counter() - started
    return seconds, results.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--subset", type=float, default=0.2)
    args = parser.parse_args()
    if "OMP_NUM_THREADS" in os.environ:
        parser.error("unset OMP_NUM_THREADS: the benchmark compares torch's default with a share")
    settings = SearchSettings(
        space="resnet",
        budget=Budget(max_params=5_000_000),
        n_trials=1,
        dataset="mnist5k",
        epochs=args.epochs,
        subset=args.subset,
        device="cpu",
        profile="none",
        isolation="inline",
    )
    share = _threads_per_worker(args.workers)
    default_runs, split_runs = [], []
    for repeat in range(1, args.repeats + 1):  # interleaved, so that a load change hits both
        default_seconds, default_threads = _together(settings, args.workers, None)
        split_seconds, split_threads = _together(settings, args.workers, share)
        default_runs.append(default_seconds)
        split_runs.append(split_seconds)
        print(
            f"repeat {repeat}: {default_threads} threads each {default_seconds:.1f} s, "
            f"{split_threads} each {split_seconds:.1f} s",
            flush=True,
        )
    default, split = statistics.median(default_runs), statistics.median(split_runs)
    print(f"{args.workers} x {args.epochs}-epoch proxy trial, quizdnn on mnist5k ")
    print(f"(subset {args.subset}), CPU with {os.cpu_count()} cores, median of {args.repeats}:")
    print(f"  torch's default threads per worker   {default:8.1f} s")
    print(f"  cores // workers threads per worker  {split:8.1f} s")
    print(f"default / split: {default / split:.2f}")


if __name__ == "__main__":
    main()
