"""Trainer overhead: images/s of ``train_model`` against a minimal hand-written loop.

Both train the same model (``simple_cnn`` by default: the cheaper the step, the more any overhead
shows) with the same SGD (lr 0.05, momentum 0.9, weight decay 5e-4, constant rate), batch 128, on
the same synthetic 3x32x32 images held on the device, without augmentation, in this process. The
trainer's figure is its own per-epoch ``images_per_second`` (training only: data loader, loss
bookkeeping, NaN check, scheduler); the baseline is forward, cross-entropy, backward and step over
slices of a pre-normalized float tensor in shuffled order. Rounds alternate the two so that both
see the same machine load; the first epoch of every run is a warm-up and is dropped. The best
epochs are compared (as ``timeit`` takes the fastest repeat: slower ones measure other processes
on a shared machine); medians are printed too. Goal: ratio >= 0.95.

    python benchmarks/train_step.py [--model simple_cnn] [--images 2048] [--rounds 6]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from torch.nn import functional as F

from archbench.data import Augment, Dataset, DeviceLoader, load_dataset
from archbench.models import ModelConfig, build_model, get_preset
from archbench.train import TrainRecipe, train_model

BATCH_SIZE = 128
NO_AUGMENT = Augment(crop_padding=0, flip=False, cutout=0)


def trainer_rates(
    cfg: ModelConfig, data: Dataset, epochs: int, device: torch.device
) -> list[float]:
    recipe = TrainRecipe(
        optimizer="sgd",
        lr=0.05,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        schedule="none",
        augmentation=NO_AUGMENT,
    )
    validation = dataclasses.replace(data, images=data.images[:64], labels=data.labels[:64])
    result = train_model(cfg, recipe, train_data=data, val_data=validation, device=device)
    return [metrics["images_per_second"] for metrics in result.history[1:]]


def baseline_rates(
    cfg: ModelConfig, data: Dataset, epochs: int, device: torch.device
) -> list[float]:
    torch.manual_seed(0)
    model = build_model(cfg).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    # The whole set, normalized once: the cheapest possible input pipeline.
    images = torch.cat([x for x, _ in DeviceLoader(data, 1024, device=device, train=False)])
    labels = data.labels.to(device)
    steps = len(labels) // BATCH_SIZE
    rates = []
    for _ in range(epochs):
        started = time.perf_counter()
        order = torch.randperm(len(labels), device=device)
        for step in range(steps):
            batch = order[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        loss.item()  # waits for the device, as the trainer's end-of-epoch readback does
        rates.append(steps * BATCH_SIZE / (time.perf_counter() - started))
    return rates[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="simple_cnn", help="a preset name")
    parser.add_argument("--images", type=int, default=2048, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run, the first dropped")
    parser.add_argument("--rounds", type=int, default=6, help="alternating runs of each")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    full = load_dataset("synthetic")
    data = dataclasses.replace(
        full, images=full.images[: args.images], labels=full.labels[: args.images]
    )
    cfg = get_preset(args.model).with_data(
        num_classes=data.num_classes, in_channels=data.in_channels, input_size=data.input_size
    )
    print(
        f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, {args.model}, "
        f"batch {BATCH_SIZE}, {args.images} images, {args.rounds} rounds x "
        f"{args.epochs - 1} timed epochs"
    )
    trainer: list[float] = []
    baseline: list[float] = []
    for _ in range(args.rounds):
        trainer += trainer_rates(cfg, data, args.epochs, device)
        baseline += baseline_rates(cfg, data, args.epochs, device)
    for name, rates in (("train_model", trainer), ("hand loop", baseline)):
        epochs = ", ".join(f"{rate:,.0f}" for rate in rates)
        print(
            f"{name:<12} best {max(rates):>8,.1f} images/s, "
            f"median {statistics.median(rates):>8,.1f}  (epochs: {epochs})"
        )
    print(f"ratio of the best epochs {max(trainer) / max(baseline):.3f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
