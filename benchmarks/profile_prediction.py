"""Predicted peak training memory against two measurements of a real CPU step, for every preset.

For each preset and batch size, in one process:

* predicted: ``predict_peak_memory``, a training step on fake tensors (no memory, no compute);
* tracked: the same live-storage tracker on a real CPU training step (what a CPU profile
  reports as ``peak_train_memory_bytes``);
* allocator: an independent figure, the running sum of the CPU allocator's allocation events
  recorded by ``torch.profiler(profile_memory=True)`` during the same kind of step, plus the
  storages that existed before it (parameters, buffers, optimizer state, inputs). It also sees
  kernel scratch buffers that never become tensors, so the tracker may sit slightly below it.

It prints the errors of the prediction against both, and the time of one prediction as a ratio
to one real training step at the same batch size (the baseline measured in the same run).

    python benchmarks/profile_prediction.py [--batch-sizes 8,32] [--threads 1]

The profiler reads private torch structures (``kineto_results.experimental_event_tree``), the
method of PyTorch's memory profiler (``torch/profiler/_memory_profiler.py``); fine for a
benchmark, not for the product.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch._C._profiler import _EventType
from torch.profiler import ProfilerActivity, profile

from archbench.hwprofile import TrainStepSimulation
from archbench.hwprofile._memory import replay, trace_train_step
from archbench.hwprofile._workload import Workload
from archbench.models import get_preset, list_presets


def allocator_peak(workload: Workload, images: torch.Tensor, labels: torch.Tensor) -> int:
    """Bytes alive at the CPU allocator's peak during one training step."""
    existing = [*workload.model.parameters(), *workload.model.buffers(), images, labels]
    existing += workload.optimizer_state()
    baseline = sum(tensor.untyped_storage().nbytes() for tensor in existing)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        workload.train_step(images, labels)
    sizes: list[tuple[int, int]] = []
    nodes = list(prof.profiler.kineto_results.experimental_event_tree())
    while nodes:
        node = nodes.pop()
        if node.typed[0] == _EventType.Allocation:
            sizes.append((node.start_time_ns, node.typed[1].alloc_size))
        nodes.extend(node.children)
    current = peak = 0
    for _, size in sorted(sizes):
        current += size
        peak = max(peak, current)
    return baseline + peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-sizes", default="8,32")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch_sizes = [int(part) for part in args.batch_sizes.split(",")]
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads, SGD momentum fp32")
    print(
        f"{'preset':16} {'batch':>5} {'predicted MiB':>13} {'tracked MiB':>11} "
        f"{'allocator MiB':>13} {'vs tracked':>10} {'vs allocator':>12} {'time ratio':>10}"
    )
    for preset in list_presets():
        cfg = get_preset(preset)
        torch.manual_seed(0)
        workload = Workload(cfg, "cpu")
        for batch_size in batch_sizes:
            images, labels = workload.batch(batch_size)
            start = time.perf_counter()
            predicted = TrainStepSimulation(cfg).predict(batch_size).total
            predict_seconds = time.perf_counter() - start
            tracked = replay(trace_train_step(workload, images, labels)).total
            start = time.perf_counter()
            workload.train_step(images, labels)
            step_seconds = time.perf_counter() - start
            allocator = allocator_peak(workload, images, labels)
            print(
                f"{preset:16} {batch_size:5d} {predicted / 2**20:13.2f} {tracked / 2**20:11.2f} "
                f"{allocator / 2**20:13.2f} {100 * (predicted / tracked - 1):+9.2f}% "
                f"{100 * (predicted / allocator - 1):+11.2f}% "
                f"{predict_seconds / step_seconds:9.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
