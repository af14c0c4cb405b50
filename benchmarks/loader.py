"""``DeviceLoader`` vs torchvision's ``DataLoader`` with PIL transforms, on the same images.

Both produce shuffled batches of random 32x32 crops of 4-pixel reflection-padded images, randomly
flipped, as normalized float32 tensors: ours with whole-batch tensor operations, torchvision's
with ``RandomCrop(32, padding=4, padding_mode="reflect")``, ``RandomHorizontalFlip``, ``ToTensor``
and ``Normalize`` per PIL image, collated by a ``DataLoader`` without workers. Same process, same
data (the ``synthetic`` set: 10,000 CIFAR-shaped uint8 images), same batch size. Prints images per
second of each (the median over the timed epochs) and the ratio (goal: 5x or more on 2 CPU cores).

    python benchmarks/loader.py [--batch-size 256] [--epochs 5] [--device cpu] [--threads N]

On a shared 2-core machine, pass ``--threads 1``: torch's two OpenMP threads stall whenever the
other core is busy, which slows the many short tensor operations of both loaders.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Iterable

import torch
import torchvision.transforms as T
from PIL import Image

from archbench.data import Augment, Dataset, DeviceLoader, load_dataset


class _PilDataset(torch.utils.data.Dataset):
    """What ``torchvision.datasets.CIFAR10`` does per item: HWC uint8 -> PIL image -> transform."""

    def __init__(self, ds: Dataset, transform: T.Compose) -> None:
        self.pixels = ds.images.permute(0, 2, 3, 1).numpy()  # (N, H, W, C), as CIFAR10.data
        self.labels = ds.labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.pixels[index])), self.labels[index]


def images_per_second(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: str) -> float:
    """Consumes one epoch of batches; images over wall-clock seconds (synchronized on CUDA)."""
    start = time.perf_counter()
    count = 0
    for images, _ in batches:
        count += len(images)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs of our loader")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)  # the DataLoader's shuffle and the PIL transforms draw from it
    ds = load_dataset("synthetic", "train")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, device {args.device}; "
        f"{len(ds):,} images {tuple(ds.images.shape[1:])}, batch {args.batch_size}"
    )

    ours = DeviceLoader(
        ds, args.batch_size, device=args.device, train=True, augment=Augment(4, True, 0)
    )
    images_per_second(ours, args.device)  # warm-up: first-touch allocations, kernel selection
    ours_rates = [images_per_second(ours, args.device) for _ in range(args.epochs)]

    transform = T.Compose(
        [
            T.RandomCrop(32, padding=4, padding_mode="reflect"),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(ds.mean, ds.std),
        ]
    )
    theirs = torch.utils.data.DataLoader(
        _PilDataset(ds, transform), batch_size=args.batch_size, shuffle=True, num_workers=0
    )
    # One epoch is enough: hundreds of thousands of per-image calls average out their noise.
    theirs_rate = images_per_second(
        ((images.to(args.device, non_blocking=True), labels) for images, labels in theirs),
        args.device,
    )

    ours_rate = statistics.median(ours_rates)
    spread = f"{min(ours_rates):,.0f} to {max(ours_rates):,.0f}"
    print(f"DeviceLoader (crop+flip+normalize): {ours_rate:>12,.0f} images/s  ({spread})")
    print(f"DataLoader + PIL transforms:        {theirs_rate:>12,.0f} images/s  (1 epoch)")
    print(f"ratio: {ours_rate / theirs_rate:,.1f}x")


if __name__ == "__main__":
    main()
