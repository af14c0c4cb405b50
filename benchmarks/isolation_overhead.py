"""Per-trial overhead of ``--isolation process``: a fresh child per trial, against training.

A trial in its own spawned process pays, before it trains, for the spawn, the imports (torch,
archbench), CUDA's initialisation on a GPU, and loading the data set again. This runs the same
2-epoch proxy trial (``quizdnn`` on mnist5k, CPU, no profile) inline and in a child, in this
process, and prints the child's extra seconds as a ratio of the inline trial's. Beside it: a
bare spawn that imports what a trial child imports, and a data load, to show where the extra
goes. Above 10%, a long-lived child per worker that runs trials one after another pays off.

    python benchmarks/isolation_overhead.py [--repeats 3] [--epochs 2] [--subset 0.5]

First figures (2 CPU cores shared with other jobs, load average about 15, so every time is
several times its idle value): the inline trial took 725 s and the child's 636 s, a difference
inside the noise; a bare spawn with the imports took 18-21 s and the data load 0.5-0.9 s, about
3% of the trial. On the CPU the overhead is under 10%; on a GPU, where training takes seconds,
``make gpu-check`` measures it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Callable

from archbench.budget import Budget
from archbench.models import get_preset
from archbench.search import SearchSettings


def _run_trial(settings: SearchSettings) -> float:
    """Wall seconds of one trial through the search's trial runner (the only search call)."""
    from archbench.evaluators import TrialRunner
    from archbench.search import TrialContext

    cfg = get_preset("quizdnn").with_data(num_classes=10, in_channels=1, input_size=28)
    training = TrialContext.of(settings).proxy_training()
    runner = TrialRunner(training, settings.epoch_timeout_seconds)
    if not runner.isolated:
        training.trial_data()  # loaded once per worker, before its trials
    started = time.perf_counter()
    runner.run(cfg, lambda epoch, metrics: None, lambda: False)
    return time.perf_counter() - started


def _import_like_a_trial_child() -> None:
    import archbench.evaluators  # noqa: F401
    import archbench.train  # noqa: F401


def _spawn_and_import() -> float:
    started = time.perf_counter()
    process = multiprocessing.get_context("spawn").Process(target=_import_like_a_trial_child)
    process.start()
    process.join()
    return time.perf_counter() - started


def _load_data(settings: SearchSettings) -> float:
    from archbench.data import load_dataset, split_train_val

    started = time.perf_counter()
    full = load_dataset(settings.dataset, "train", settings.data_dir)
    split_train_val(full, val_fraction=0.1, seed=0, subset=settings.subset)
    return time.perf_counter() - started


def _median(measure: Callable[[], float], repeats: int) -> float:
    return statistics.median(measure() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subset", type=float, default=0.5)
    args = parser.parse_args()

    def settings(isolation: str) -> SearchSettings:
        return SearchSettings(
            space="resnet",
            budget=Budget(max_params=5_000_000),
            n_trials=1,
            dataset="mnist5k",
            epochs=args.epochs,
            subset=args.subset,
            device="cpu",
            profile="none",
            isolation=isolation,
        )

    inlines, children = [], []
    for repeat in range(1, args.repeats + 1):  # interleaved, so that a load change hits both
        inlines.append(_run_trial(settings("inline")))
        children.append(_run_trial(settings("process")))
        seconds = f"inline {inlines[-1]:.2f} s, child {children[-1]:.2f} s"
        print(f"repeat {repeat}: {seconds}", flush=True)
    inline, child = statistics.median(inlines), statistics.median(children)
    spawn = _median(_spawn_and_import, args.repeats)
    data = _median(lambda: _load_data(settings("inline")), args.repeats)
    overhead = child - inline
    print(f"{args.epochs}-epoch proxy trial, quizdnn on mnist5k (subset {args.subset}), CPU, ")
    print(f"median of {args.repeats}:")
    print(f"  inline trial (training + validation)   {inline:8.2f} s")
    print(f"  trial in a fresh child process          {child:8.2f} s")
    print(f"  overhead of the child                   {overhead:8.2f} s")
    print(f"    of which spawn + imports (bare)       {spawn:8.2f} s")
    print(f"    of which data load (in this process)  {data:8.2f} s")
    ratio = overhead / inline
    verdict = "over" if ratio > 0.10 else "within"
    print(f"overhead / training: {ratio:.2f} ({verdict} the 10% at which a long-lived child pays)")


if __name__ == "__main__":
    main()
