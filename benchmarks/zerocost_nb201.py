"""archbench's zero-cost scores on NAS-Bench-201 against NASLib's published ones and the table.

For the 724 archs of NAS-Bench-Suite-Zero's CIFAR-10 file (``tests/models/data/``, from NASLib),
scores each arch's network (C 16, N 5, 3x32x32, 10 classes, seed 0) with archbench's params,
flops, synflow, snip, grad_norm, naswot and zico, and prints the Spearman of each against NASLib's
score of the same name (``nwot`` is naswot; NASLib has no zico) and against the 200-epoch CIFAR-10
test accuracy of the table shipped in ``archbench.tables``.

params and flops are analytic and cover all 724 archs. synflow builds each net (one all-ones
image, float64); the data-dependent scores need a batch: ``--data`` is a CIFAR-10 JPEG tarball
(``cifar10-jpeg/train/<class>/NNNN.jpg``) from which 64 seeded training images are read, or, without
it, 64 images of seeded Gaussian noise (say which in any figure). ``--archs K`` scores a seeded
subsample of K archs with the built-model scores, and ``--scores synflow`` leaves out the
data-dependent ones, for slow machines.

    nice -n 10 python benchmarks/zerocost_nb201.py --data cifar10-jpeg.tar.gz --archs 724
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from archbench.models import count_params, forward_flops, resolve_config
from archbench.tables import nb201_accuracies
from archbench.zerocost import needs_data, score_config

PUBLISHED = Path(__file__).resolve().parents[1] / "tests" / "models" / "data"
PUBLISHED_FILE = PUBLISHED / "nb201_zerocost_cifar10.csv"
BUILT_SCORES = ("synflow", "snip", "grad_norm", "naswot", "zico")
NASLIB_NAME = {"naswot": "nwot"}  # archbench name -> NASLib column, where they differ
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # per-channel mean and std of the training images
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGES_PER_CLASS = 5000


def cifar10_batch(tarball: Path, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` seeded CIFAR-10 training images of the JPEG tarball, normalized, with labels."""
    from PIL import Image

    rng = random.Random(seed)
    picks = [
        (rng.randrange(len(CIFAR10_CLASSES)), rng.randrange(IMAGES_PER_CLASS)) for _ in range(count)
    ]
    wanted = {
        f"cifar10-jpeg/train/{CIFAR10_CLASSES[label]}/{index:04d}.jpg": label
        for label, index in picks
    }
    found: dict[str, np.ndarray] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            if member.name in wanted:
                data = archive.extractfile(member).read()  # type: ignore[union-attr]
                found[member.name] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    if len(found) != len(wanted):
        raise SystemExit(f"{tarball}: found {len(found)} of the {len(wanted)} images asked for")
    names = list(wanted)
    images = torch.tensor(np.stack([found[name] for name in names])).permute(0, 3, 1, 2)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    labels = torch.tensor([wanted[name] for name in names])
    return (images.float() / 255 - mean) / std, labels


def noise_batch(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(count, 3, 32, 32, generator=generator)
    return images, torch.randint(0, 10, (count,), generator=generator)


def spearman(ours: list[float], theirs: list[float]) -> float:
    return float(spearmanr(ours, theirs).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="CIFAR-10 JPEG tarball for the scoring batch")
    parser.add_argument("--archs", type=int, default=724, help="archs scored with built models")
    parser.add_argument(
        "--scores", default=",".join(BUILT_SCORES), help="built-model scores, comma-separated"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="images of the scoring batch")
    parser.add_argument("--seed", type=int, default=0, help="seeds the batch, subsample, weights")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    built_scores = [name.strip() for name in args.scores.split(",")]
    if not set(built_scores) <= set(BUILT_SCORES):
        parser.error(f"--scores: choose from {', '.join(BUILT_SCORES)}")

    with PUBLISHED_FILE.open() as file:
        rows = list(csv.DictReader(file))
    accuracy = nb201_accuracies("cifar10")
    batches: list[tuple[torch.Tensor, torch.Tensor]] = []
    if needs_data(built_scores) and args.data:
        batches.append(cifar10_batch(args.data, args.batch_size, args.seed))
    elif needs_data(built_scores):
        batches.append(noise_batch(args.batch_size, args.seed))
    built = random.Random(args.seed).sample(range(len(rows)), min(args.archs, len(rows)))
    ours: dict[str, list[float]] = {"params": [], "flops": []}
    for row in rows:
        cfg = resolve_config(row["arch"])
        ours["params"].append(float(count_params(cfg)))
        ours["flops"].append(float(forward_flops(cfg)))
    for name in built_scores:
        ours[name] = []
    started = time.perf_counter()
    for done, index in enumerate(sorted(built), 1):
        values = score_config(
            resolve_config(rows[index]["arch"]), built_scores, batches=batches, seed=args.seed
        )
        for name in built_scores:
            ours[name].append(values[name])
        if done % 25 == 0:
            elapsed = time.perf_counter() - started
            print(f"{done}/{len(built)} archs scored, {elapsed / done:.2f} s each", flush=True)
    seconds = time.perf_counter() - started

    lines = [
        "| score | archs | vs NASLib's score | vs CIFAR-10 test accuracy (ours) "
        "| vs CIFAR-10 test accuracy (NASLib's) |",
        "|---|---|---|---|---|",
    ]
    for name, values in ours.items():
        subset = range(len(rows)) if name in ("params", "flops") else sorted(built)
        tested = [accuracy[rows[i]["arch"]] for i in subset]
        column = NASLIB_NAME.get(name, name)
        theirs = [float(rows[i][column]) for i in subset] if column in rows[0] else None
        agreement = f"{spearman(values, theirs):.3f}" if theirs else "n/a"
        published = f"{spearman(theirs, tested):.3f}" if theirs else "n/a"
        lines.append(
            f"| {name} | {len(values)} | {agreement} | {spearman(values, tested):.3f} "
            f"| {published} |"
        )
    batch_source = "none (data-free scores)"
    if batches:
        kind = "CIFAR-10 (JPEG) training images" if args.data else "images of Gaussian noise"
        batch_source = f"{args.batch_size} {kind}"
    footer = (
        f"Built-model scores: {len(built)} archs in {seconds:.0f} s ({seconds / len(built):.2f} s "
        f"each, {args.threads} torch thread(s)); scoring batch: {batch_source}, seed {args.seed}."
    )
    table = "\n".join([*lines, "", footer])
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
