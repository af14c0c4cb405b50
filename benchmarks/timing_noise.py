"""Batch-1 latency as a search trial stores it, before and after issue 20, quiet and loaded.

"Before" is the old ``time_latency``: ``Timer.adaptive_autorange`` with a budget of
``max(0.5 s, 5 x one call)``, whose blocks are sized for 0.05 s on a call timed once; on a
busy machine one block can outlast the budget, which stores one block (IQR 0, p90 = median).
"After" is ``hwprofile._timing.time_latency``: at least ``MIN_BLOCKS`` blocks, and the
``noise`` verdict (wide spread, too few blocks, or a busy machine). Each is run ``--repeats``
times on the machine as it is, then again with ``--busy`` spinning processes beside it.

    nice -n 10 python benchmarks/timing_noise.py [--preset simple_cnn] [--repeats 5] [--busy 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from archbench.hwprofile import LEVELS
from archbench.hwprofile._timing import Timer, TimingStats, synchronized_clock, time_latency
from archbench.models import build_model, get_preset

BUDGET = LEVELS["basic"].latency_seconds  # a search trial's latency budget


def before(fn: Callable[[], object], device: torch.device) -> TimingStats:
    """The latency timing as it was before issue 20."""
    start = time.perf_counter()
    fn()
    limit = max(BUDGET, 5 * (time.perf_counter() - start))
    timer = Timer(
        stmt="fn()",
        globals={"fn": fn},
        num_threads=torch.get_num_threads(),
        timer=synchronized_clock(device),
    )
    measurement = timer.adaptive_autorange(min_run_time=BUDGET / 10, max_run_time=limit)
    return TimingStats.from_seconds(measurement.times)


def after(fn: Callable[[], object], device: torch.device) -> TimingStats:
    return time_latency(fn, device, min_run_time=BUDGET / 10, max_run_time=BUDGET)


def verdict(name: str, stats: TimingStats) -> str:
    """After: the stored flag. Before: nothing was stored; what the new spread rule says."""
    if name == "after":
        return stats.noise or "-"
    return f"not flagged (rule: {stats.noise or 'fine'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="simple_cnn")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--busy", type=int, default=2, help="spinning processes when loaded")
    args = parser.parse_args()
    device = torch.device("cpu")
    cfg = get_preset(args.preset)
    model = build_model(cfg).eval()
    images = torch.zeros(1, cfg.in_channels, cfg.input_size, cfg.input_size)

    def infer() -> None:
        with torch.no_grad():
            model(images)

    infer()
    print(f"{args.preset}, batch 1, {torch.get_num_threads()} threads, budget {BUDGET} s")
    print("| machine | timing | blocks | median ms | p90 ms | IQR ms | noisy |")
    print("|---|---|---|---|---|---|---|")
    for loaded in (False, True):
        spinners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(args.busy if loaded else 0)
        ]
        try:
            time.sleep(1.0 if loaded else 0.0)
            for name, method in (("before", before), ("after", after)):
                for _ in range(args.repeats):
                    stats = method(infer, device)
                    print(
                        f"| {f'+{args.busy} busy' if loaded else 'as is'} | {name} | "
                        f"{stats.runs} | {1e3 * stats.median:.2f} | {1e3 * stats.p90:.2f} | "
                        f"{1e3 * stats.iqr:.2f} | {verdict(name, stats)} |",
                        flush=True,
                    )
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()


if __name__ == "__main__":
    main()
