"""What a profile costs: wall time of ``profile_model`` against one plain training step.

The search profiles every trial at level basic, so its cost is overhead on each trial. The
baseline, measured in the same run, is the median of three eager training steps (forward, loss,
backward, SGD step) at the batch size the profile measures, after one warm-up step: the ratio
says how many training steps a profile costs. It also prints where the time went: the static
counts, the prediction on fake tensors, and the measurements.

    python benchmarks/profile_cost.py [--preset resnet_5m] [--level basic] [--device cpu]
        [--batch-size 128] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from archbench.hwprofile import LEVELS, TrainStepSimulation, profile_model, resolve_device
from archbench.hwprofile._profile import _static_figures
from archbench.hwprofile._timing import time_call
from archbench.hwprofile._workload import Workload
from archbench.models import ModelConfig, get_preset


def _training_step_seconds(cfg: ModelConfig, device: torch.device, batch_size: int) -> float:
    """Median of three eager training steps after one warm-up step."""
    workload = Workload(cfg, device)
    images, labels = workload.batch(batch_size)
    workload.train_step(images, labels)
    return statistics.median(
        time_call(lambda: workload.train_step(images, labels), device) for _ in range(3)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="resnet_5m")
    parser.add_argument("--level", default="basic", choices=sorted(LEVELS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = get_preset(args.preset)
    device = resolve_device(args.device)
    level = LEVELS[args.level]
    batch_size = args.batch_size
    if device.type == "cpu" and level.cpu_batch_size:
        batch_size = min(batch_size, level.cpu_batch_size)

    step = _training_step_seconds(cfg, device, batch_size)

    start = time.perf_counter()
    _static_figures(cfg, level)
    static = time.perf_counter() - start
    start = time.perf_counter()
    TrainStepSimulation(cfg).predict(batch_size)
    predict = time.perf_counter() - start
    start = time.perf_counter()
    result = profile_model(cfg, device=args.device, batch_size=args.batch_size, level=args.level)
    total = time.perf_counter() - start

    print(
        f"{args.preset} on {result.env['device_name']} ({device}, {torch.get_num_threads()} "
        f"threads), torch {torch.__version__}, level {args.level}, measured batch {batch_size}"
    )
    print(f"baseline: one training step          {step:7.2f} s")
    print(f"profile_model, level {args.level:5}        {total:7.2f} s = {total / step:.1f} steps")
    print(f"  of which counts (FLOPs, fvcore)    {static:7.2f} s")
    print(f"  of which prediction (fake tensors) {predict:7.2f} s")
    print(f"  of which measurements              {total - static - predict:7.2f} s")


if __name__ == "__main__":
    main()
