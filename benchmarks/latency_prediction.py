"""How well the per-kernel latency model predicts measured latency, on GPUs we lack and this CPU.

Three parts (``--parts a,b,c``):

a. NB201 file: HELP's measured inference latency of all 15,625 NAS-Bench-201 nets on a Titan RTX
   and an RTX 2080 Ti at batch 1, 32 and 256, and on a Xeon Gold 6226 at batch 1
   (``benchmarks/data/nb201_latency_ms.csv.gz``, see its NOTICE). For each column, at 0 (the
   catalogue spec and default parameters), 5, 10 and 20 calibration measurements (``--draws``
   random draws each), over the nets not used to calibrate: Spearman, the share within +-10%,
   the median relative error; beside them a FLOPs-only linear fit on the same draws.
b. Across families, on this CPU: measures ``--nb201`` NB201 nets and ``--others`` seeded
   resnet, vgg and branchnet configs at batch 1 and 32 (``measure_latency_ms``, the profiler's
   timing; ``--rounds R`` keeps each config's fastest of R rounds, ``--seed`` draws other
   configs), calibrates on the NB201 nets only (at the batch predicted, and at batch 1 and 32
   together), and predicts the others.
c. Across batch sizes: calibrates at batch 1 and predicts batch 32 (this CPU: every measured
   config; the file: 10 nets of each GPU's batch-1 column, predicting its batch 32 and 256, and
   5 nets at batch 1 with 5 at batch 256, predicting batch 32).
   Then, per GPU column, where the errors come from: each edge op's marginal cost as measured
   (least squares of latency on the cell's op counts, all nets) beside the model's (fitted to
   1,000 nets), and the ceiling of any prediction from the op counts alone (each net predicted
   by the median measured latency of the nets with its op counts: the spread among nets that
   run the same kernels is timing noise).
d. Single kernels at batch 1 on this CPU: elementwise ops, batch norm, pools and convolutions
   of NB201's sizes and of the other families' (why a fit to NB201 does not carry).
e. Timing noise: every 12th of part b's measurements timed 3 times in a row, median and fastest
   block each time, beside the saved figure and the load average.

    nice -n 10 python benchmarks/latency_prediction.py [--parts a,b,c,d,e] [--threads 1]
        [--measurements FILE.csv] [--save-measurements FILE.csv] [--fastest] [--rounds R]

Part b's measurements take minutes; ``--save-measurements`` keeps them and ``--measurements``
reuses them (the fit and the tables then take seconds).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np
import torch
from scipy.stats import spearmanr

from archbench.hwprofile import (
    DeviceSpec,
    TraceSet,
    fit_params,
    get_device,
    measure_cpu,
    measure_latency_ms,
    seeded_configs,
    trace_kernels,
)
from archbench.hwprofile._latency import KernelTrace
from archbench.models import ModelConfig, config_from_dict, forward_flops, resolve_config
from archbench.models._nb201 import OPS, NB201Config, format_arch

DATA = Path(__file__).parent / "data" / "nb201_latency_ms.csv.gz"
COLUMNS = {  # file column -> (catalogue entry, batch size)
    "titan_rtx_1": ("titan-rtx", 1),
    "titan_rtx_32": ("titan-rtx", 32),
    "titan_rtx_256": ("titan-rtx", 256),
    "2080ti_1": ("rtx2080ti", 1),
    "2080ti_32": ("rtx2080ti", 32),
    "2080ti_256": ("rtx2080ti", 256),
    "gold_6226": ("xeon-gold-6226", 1),
}
SHOTS = (0, 5, 10, 20)


def scores(predicted: np.ndarray, measured: np.ndarray, band: float = 0.1) -> tuple[float, ...]:
    """Spearman, share within +-band, median relative error."""
    ratio = predicted / measured - 1
    rho = float(spearmanr(predicted, measured)[0])
    return rho, float(np.mean(np.abs(ratio) <= band)), float(np.median(np.abs(ratio)))


def flops_fit(flops: np.ndarray, measured: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Latency = a + b * FLOPs, least squares on the calibration nets."""
    slope, intercept = np.polyfit(flops[train], measured[train], 1)
    return intercept + slope * flops


def load_file() -> tuple[list[str], dict[str, np.ndarray]]:
    with gzip.open(DATA, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["arch"] for row in rows], {
        column: np.array([float(row[column]) for row in rows]) for column in COLUMNS
    }


def part_a(draws: int, seed: int) -> None:
    archs, columns = load_file()
    start = time.perf_counter()
    configs = [resolve_config(arch) for arch in archs]
    traces = [trace_kernels(cfg) for cfg in configs]
    every = TraceSet(traces)
    flops = np.array([forward_flops(cfg) for cfg in configs], dtype=float)
    print(f"\n## a. NB201 file: {len(archs):,} nets, traced in {time.perf_counter() - start:.1f} s")
    print(
        "\nMeans over draws of the held-out nets. Model: the per-kernel cost model; "
        "FLOPs: a linear fit of latency on FLOPs to the same calibration nets.\n"
    )
    print(
        "| column | device | K | Spearman | within 10% | median error | "
        "FLOPs Spearman | FLOPs within 10% | FLOPs median error |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(seed)
    for column, (name, batch) in COLUMNS.items():
        device, measured = get_device(name), columns[column]
        for shots in SHOTS:
            model, baseline = [], []
            for _ in range(draws if shots else 1):
                chosen = rng.choice(len(archs), shots, replace=False)
                held = np.ones(len(archs), bool)
                held[chosen] = False
                params = device.params
                if shots:
                    subset = TraceSet([traces[i] for i in chosen])
                    params = fit_params(subset, measured[chosen], device, batch_size=batch)
                    linear = flops_fit(flops, measured, chosen)
                    baseline.append(scores(linear[held], measured[held]))
                predicted = every.predict_ms(device, batch, "fp32", params)
                model.append(scores(predicted[held], measured[held]))
            m = np.mean(model, axis=0)
            b = np.mean(baseline, axis=0) if baseline else None
            flops_cells = f"{b[0]:.3f} | {b[1]:.0%} | {b[2]:.1%}" if b is not None else "- | - | -"
            print(
                f"| {column} | {name} | {shots} | {m[0]:.3f} | {m[1]:.0%} | {m[2]:.1%} | "
                f"{flops_cells} |"
            )
    print(
        "\nAcross batch sizes on the file: calibrate on 10 nets at batch 1 (or 5 at batch 1 and "
        "5 at batch 256), predict the rest.\n"
    )
    print("| device | calibrated on | predicted | Spearman | within 10% | median error |")
    print("|---|---|---|---|---|---|")
    for prefix, name in (("titan_rtx", "titan-rtx"), ("2080ti", "rtx2080ti")):
        device = get_device(name)
        for target in (32, 256):
            results = []
            for _ in range(draws):
                chosen = rng.choice(len(archs), 10, replace=False)
                held = np.ones(len(archs), bool)
                held[chosen] = False
                subset = TraceSet([traces[i] for i in chosen])
                params = fit_params(subset, columns[f"{prefix}_1"][chosen], device, batch_size=1)
                predicted = every.predict_ms(device, target, "fp32", params)
                results.append(scores(predicted[held], columns[f"{prefix}_{target}"][held]))
            m = np.mean(results, axis=0)
            print(
                f"| {name} | {prefix}_1 | {prefix}_{target} | {m[0]:.3f} | {m[1]:.0%} | "
                f"{m[2]:.1%} |"
            )
        results = []  # 5 nets at batch 1 and 5 others at batch 256: both ends pin the parameters
        for _ in range(draws):
            chosen = rng.choice(len(archs), 10, replace=False)
            held = np.ones(len(archs), bool)
            held[chosen] = False
            subset = TraceSet([traces[i] for i in chosen])
            batches = np.array([1] * 5 + [256] * 5)
            measured = np.where(
                batches == 1, columns[f"{prefix}_1"][chosen], columns[f"{prefix}_256"][chosen]
            )
            params = fit_params(subset, measured, device, batch_size=batches)
            predicted = every.predict_ms(device, 32, "fp32", params)
            results.append(scores(predicted[held], columns[f"{prefix}_32"][held]))
        m = np.mean(results, axis=0)
        print(
            f"| {name} | 5 of {prefix}_1 + 5 of {prefix}_256 | {prefix}_32 | {m[0]:.3f} | "
            f"{m[1]:.0%} | {m[2]:.1%} |"
        )
    edge_costs([cast(NB201Config, cfg) for cfg in configs], traces, columns)


def edge_costs(
    configs: list[NB201Config], traces: list[KernelTrace], columns: dict[str, np.ndarray]
) -> None:
    """Per GPU column: each edge op's cost over a skip edge, measured and modelled, and the
    ceiling of a prediction from the op counts."""
    ops = [op for op in OPS if op != "skip_connect"]
    counts = np.array([[cfg.edges.count(op) for op in ops] for cfg in configs])
    design = np.c_[np.ones(len(configs)), counts]
    uniform = TraceSet(
        [trace_kernels(resolve_config(format_arch((op,) * 6))) for op in ("skip_connect", *ops)]
    )
    keys = [tuple(row) for row in counts]
    print(
        "\nWhere the errors come from: ms that one edge of each op adds over a skip edge "
        "(15 cells), measured (linear fit on op counts, all nets) / modelled (fitted to 1,000 "
        "nets); ceiling: each net predicted by the median of the nets with its op counts.\n"
    )
    print(f"| column | {' | '.join(ops)} | ceiling Spearman | ceiling within 10% |")
    print("|---|" + "---|" * (len(ops) + 2))
    rng = np.random.default_rng(0)
    for column, (name, batch) in COLUMNS.items():
        device, measured = get_device(name), columns[column]
        if device.kind != "gpu":
            continue
        measured_cost = np.linalg.lstsq(design, measured, rcond=None)[0][1:]
        chosen = rng.choice(len(configs), 1000, replace=False)
        subset = TraceSet([traces[i] for i in chosen])
        params = fit_params(subset, measured[chosen], device, batch_size=batch)
        per_net = uniform.predict_ms(device, batch, "fp32", params)
        model_cost = (per_net[1:] - per_net[0]) / 6
        groups: dict[tuple[int, ...], list[float]] = {}
        for key, value in zip(keys, measured):
            groups.setdefault(key, []).append(float(value))
        medians = {key: float(np.median(values)) for key, values in groups.items()}
        ceiling = scores(np.array([medians[key] for key in keys]), measured)
        cells = " | ".join(f"{a:.3f} / {b:.3f}" for a, b in zip(measured_cost, model_cost))
        print(f"| {column} | {cells} | {ceiling[0]:.4f} | {ceiling[1]:.1%} |")


def measure_here(
    n_nb201: int, n_others: int, seed: int, path: Path | None, fastest: bool, rounds: int
) -> list[dict[str, object]]:
    """Part b's measurements: NB201 nets and seeded configs of the other families, batch 1, 32
    (the median block, or with ``fastest`` the fastest: steadier on a loaded machine). With
    several ``rounds`` every config is timed once per round, and keeps its fastest round: a
    slowdown of the shared machine during one timing then costs nothing."""
    archs, _ = load_file()
    rng = np.random.default_rng(seed)
    nb201 = [resolve_config(archs[i]) for i in rng.choice(len(archs), n_nb201, replace=False)]
    others = seeded_configs(
        n_others,
        seed=seed,
        families=("resnet", "vgg", "branchnet"),
        max_params=1_000_000,
        max_flops=60_000_000,
    )
    timings: dict[tuple[int, int], list[float]] = {}
    configs = [*nb201, *others]
    start = time.perf_counter()
    for round_ in range(rounds):
        for i, cfg in enumerate(configs):
            for batch in (1, 32):
                ms = measure_latency_ms(
                    cfg, device="cpu", batch_size=batch, seconds=1.0, fastest=fastest
                )
                timings.setdefault((i, batch), []).append(ms)
            elapsed = time.perf_counter() - start
            print(f"  round {round_ + 1}: measured {i + 1} configs, {elapsed:.0f} s", flush=True)
    rows: list[dict[str, object]] = [
        {
            "family": configs[i].family,
            "batch_size": batch,
            "latency_ms": min(times),
            "rounds_ms": " ".join(f"{ms:.4f}" for ms in times),
            "config_json": json.dumps(configs[i].to_dict()),
        }
        for (i, batch), times in timings.items()
    ]
    if path is not None:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return rows


def mixed_fit(
    nb201_cfgs: list[ModelConfig],
    nb201_ms: np.ndarray,
    other_cfgs: list[ModelConfig],
    other_ms: np.ndarray,
    device: DeviceSpec,
    batch: int,
    draws: int,
) -> tuple[float, ...]:
    """Calibrated on 5 NB201 nets and 5 configs of the other families (random draws), scored
    on the other families' remaining configs: Spearman, within 20% and 10%, median error."""
    rng = np.random.default_rng(0)
    nb201 = [trace_kernels(c) for c in nb201_cfgs]
    others = [trace_kernels(c) for c in other_cfgs]
    results = []
    for _ in range(draws):
        a = rng.choice(len(nb201), 5, replace=False)
        b = rng.choice(len(others), 5, replace=False)
        held = np.setdiff1d(np.arange(len(others)), b)
        subset = TraceSet([nb201[i] for i in a] + [others[i] for i in b])
        measured = np.concatenate([nb201_ms[a], other_ms[b]])
        params = fit_params(subset, measured, device, batch_size=batch)
        predicted = TraceSet([others[i] for i in held]).predict_ms(device, batch, "fp32", params)
        rho, within20, error = scores(predicted, other_ms[held], 0.2)
        results.append((rho, within20, scores(predicted, other_ms[held], 0.1)[1], error))
    return tuple(float(value) for value in np.mean(results, axis=0))


def part_bc(rows: list[dict[str, object]], device: DeviceSpec, draws: int) -> None:
    def pick(batch: int, nb201: bool | None) -> tuple[list[ModelConfig], np.ndarray]:
        chosen = [
            row
            for row in rows
            if int(str(row["batch_size"])) == batch
            and (nb201 is None or (row["family"] == "nb201") == nb201)
        ]
        configs = [config_from_dict(json.loads(str(row["config_json"]))) for row in chosen]
        return configs, np.array([float(str(row["latency_ms"])) for row in chosen])

    print(f"\n## b. Across families on this CPU ({device.source})")
    print(
        f"\nSpec: {device.fp32_flops / 1e9:.1f} GFLOP/s, "
        f"{device.memory_bandwidth / 1e9:.1f} GB/s. Calibrated on the NB201 nets only; "
        "scored on the other families (within 20%, as the goal asks, and 10%).\n"
    )
    print(
        "| batch | calibrated on | predicted | Spearman | within 20% | within 10% | median error |"
    )
    print("|---|---|---|---|---|---|---|")
    for batch in (1, 32):
        train_cfgs, train_ms = pick(batch, True)
        test_cfgs, test_ms = pick(batch, False)
        params = fit_params(
            TraceSet([trace_kernels(c) for c in train_cfgs]), train_ms, device, batch_size=batch
        )
        predicted = TraceSet([trace_kernels(c) for c in test_cfgs]).predict_ms(
            device, batch, "fp32", params
        )
        rho, within20, error = scores(predicted, test_ms, 0.2)
        within10 = scores(predicted, test_ms, 0.1)[1]
        print(
            f"| {batch} | {len(train_cfgs)} NB201 nets | {len(test_cfgs)} resnet/vgg/branchnet | "
            f"{rho:.3f} | {within20:.0%} | {within10:.0%} | {error:.1%} |"
        )
        both = [pick(b, True) for b in (1, 32)]
        params = fit_params(
            TraceSet([trace_kernels(c) for cfgs, _ in both for c in cfgs]),
            np.concatenate([ms for _, ms in both]),
            device,
            batch_size=np.repeat([1, 32], [len(cfgs) for cfgs, _ in both]),
        )
        predicted = TraceSet([trace_kernels(c) for c in test_cfgs]).predict_ms(
            device, batch, "fp32", params
        )
        rho, within20, error = scores(predicted, test_ms, 0.2)
        print(
            f"| {batch} | {len(train_cfgs)} NB201 nets at batch 1 and 32 | "
            f"{len(test_cfgs)} resnet/vgg/branchnet | {rho:.3f} | {within20:.0%} | "
            f"{scores(predicted, test_ms, 0.1)[1]:.0%} | {error:.1%} |"
        )
        rho, within20, within10, error = mixed_fit(
            train_cfgs, train_ms, test_cfgs, test_ms, device, batch, draws
        )
        print(
            f"| {batch} | 5 NB201 + 5 others (mean of {draws} draws) | the other 25 | "
            f"{rho:.3f} | {within20:.0%} | {within10:.0%} | {error:.1%} |"
        )
        zero = TraceSet([trace_kernels(c) for c in test_cfgs]).predict_ms(
            device, batch, "fp32", device.params
        )
        rho, within20, error = scores(zero, test_ms, 0.2)
        print(
            f"| {batch} | none (zero-shot) | {len(test_cfgs)} resnet/vgg/branchnet | {rho:.3f} | "
            f"{within20:.0%} | {scores(zero, test_ms, 0.1)[1]:.0%} | {error:.1%} |"
        )
    print("\n## c. Across batch sizes on this CPU: calibrate at batch 1, predict batch 32\n")
    print("| calibrated on | predicted | Spearman | within 20% | within 10% | median error |")
    print("|---|---|---|---|---|---|")
    cfgs_1, ms_1 = pick(1, None)
    cfgs_32, ms_32 = pick(32, None)
    params = fit_params(TraceSet([trace_kernels(c) for c in cfgs_1]), ms_1, device, batch_size=1)
    predicted = TraceSet([trace_kernels(c) for c in cfgs_32]).predict_ms(device, 32, "fp32", params)
    rho, within20, error = scores(predicted, ms_32, 0.2)
    print(
        f"| {len(cfgs_1)} configs at batch 1 | the same at batch 32 | {rho:.3f} | {within20:.0%} | "
        f"{scores(predicted, ms_32, 0.1)[1]:.0%} | {error:.1%} |"
    )


def best_us(fn: Callable[[], object], calls: int = 100, repeats: int = 7) -> float:
    """Microseconds per call: the fastest of ``repeats`` loops of ``calls`` (after a warm-up)."""
    for _ in range(3):
        fn()
    loops = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        loops.append((time.perf_counter() - start) / calls)
    return 1e6 * min(loops)


def part_d() -> None:
    """Single kernels at batch 1 on this CPU: what NB201 runs against what the others run."""
    import torch.nn.functional as F

    print("\n## d. Single kernels at batch 1 on this CPU (fastest of 7 loops)\n")
    print("| kernel | us | rate |")
    print("|---|---|---|")
    with torch.inference_mode():
        for channels, size in ((16, 32), (64, 8)):
            x = torch.randn(1, channels, size, size)
            ones, zeros = torch.ones(channels), torch.zeros(channels)
            shape = f"{channels}x{size}x{size}"
            for name, fn, reads in (
                ("relu", partial(F.relu, x), x.numel()),
                ("add", partial(torch.add, x, x), x.numel()),
                ("batch norm (eval)", partial(F.batch_norm, x, zeros, ones, ones, zeros), 0),
                ("silu", partial(F.silu, x), x.numel()),
                ("3x3 avg pool", partial(F.avg_pool2d, x, 3, 1, 1, count_include_pad=False), 0),
                ("3x3 max pool", partial(F.max_pool2d, x, 3, 1, 1), 0),
            ):
                us = best_us(fn)
                per = 9 * x.numel() if "pool" in name else reads
                unit = "window read" if "pool" in name else "value"
                rate = f"{1e3 * us / per:.2f} ns per {unit}" if per else "per call"
                print(f"| {name}, {shape} | {us:.1f} | {rate} |")
        for c_in, c_out, size, k in (
            (16, 16, 32, 3),
            (32, 32, 16, 3),
            (64, 64, 8, 3),
            (16, 16, 32, 1),
            (128, 128, 32, 3),
            (4, 4, 32, 7),
            (8, 8, 8, 5),
        ):
            x, w = torch.randn(1, c_in, size, size), torch.randn(c_out, c_in, k, k)
            us = best_us(partial(F.conv2d, x, w, padding=k // 2), calls=20)
            flops = 2 * c_in * c_out * k * k * size * size
            print(
                f"| conv {c_in}->{c_out} {k}x{k}, {size}x{size} | {us:.1f} | "
                f"{flops / us / 1e3:.1f} GFLOP/s |"
            )


def part_e(rows: list[dict[str, object]], repeats: int) -> None:
    """The same configs timed ``repeats`` times in a row: median and fastest block each time."""
    from archbench.hwprofile._device import resolve_device
    from archbench.hwprofile._timing import time_call, time_latency
    from archbench.hwprofile._workload import Workload

    print(f"\n## e. Timing noise on this CPU: configs timed {repeats} times (ms)\n")
    print("| config | batch | saved | median per run | fastest block per run | load |")
    print("|---|---|---|---|---|---|")
    dev = resolve_device("cpu")
    for row in rows[::12]:
        cfg = config_from_dict(json.loads(str(row["config_json"])))
        batch = int(str(row["batch_size"]))
        workload = Workload(cfg, dev, amp=None)
        images, _ = workload.batch(batch)
        call = partial(workload.infer_step, images)
        time_call(call, dev)
        runs = [time_latency(call, dev, min_run_time=0.1, max_run_time=1.0) for _ in range(repeats)]
        medians = " ".join(f"{1e3 * r.median:.1f}" for r in runs)
        fastest = " ".join(f"{1e3 * min(r.seconds):.1f}" for r in runs)
        print(
            f"| {row['family']} | {batch} | {float(str(row['latency_ms'])):.1f} | {medians} | "
            f"{fastest} | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="a,b,c")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nb201", type=int, default=10)
    parser.add_argument("--others", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch threads on this CPU")
    parser.add_argument("--measurements", type=Path, help="reuse part b's measurements")
    parser.add_argument("--save-measurements", type=Path, help="write part b's measurements")
    parser.add_argument(
        "--rounds", type=int, default=1, help="part b: time every config this many times"
    )
    parser.add_argument(
        "--fastest",
        action="store_true",
        help="part b: time each config by its fastest block, not the median (a loaded machine)",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    torch.set_num_threads(args.threads)
    print(f"# Latency prediction, torch {torch.__version__}, {args.threads} CPU thread(s)")
    if "a" in parts:
        part_a(args.draws, args.seed)
    if parts & {"b", "c", "e"}:
        if args.measurements is not None:
            with args.measurements.open(newline="") as handle:
                rows: list[dict[str, object]] = list(csv.DictReader(handle))
        else:
            print("\nmeasuring on this CPU (part b) ...", flush=True)
            rows = measure_here(
                args.nb201,
                args.others,
                args.seed,
                args.save_measurements,
                args.fastest,
                args.rounds,
            )
        part_bc(rows, measure_cpu(), args.draws)
        if "e" in parts:
            part_e(rows, 3)
    if "d" in parts:
        part_d()


if __name__ == "__main__":
    main()
