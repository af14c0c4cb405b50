"""NAS-Bench-201's accuracy table: loaded once, on first use, from the gzip CSV beside this file.

Dong and Yang, "NAS-Bench-201", ICLR 2020; the figures are NATS-Bench's topology-space results
(MIT licence, see ``NOTICE``). Row i of the table is NAS-Bench-201 index i.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
from importlib import resources

NB201 = "nb201"
BENCHMARKS = (NB201,)
NB201_EPOCHS = 200  # every network of the table trained for 200 epochs
# Data set -> (classes, channels, input size) of the networks the table holds.
NB201_DATASETS: dict[str, tuple[int, int, int]] = {
    "cifar10": (10, 3, 32),
    "cifar100": (100, 3, 32),
    "imagenet16-120": (120, 3, 16),
}
_FILE = "nb201_accuracy.csv.gz"


def check_benchmark(benchmark: str, dataset: str) -> None:
    """Raises a one-line ``ValueError`` unless ``dataset`` is one of ``benchmark``'s."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark: {benchmark!r} is unknown; choose {', '.join(BENCHMARKS)}")
    if dataset not in NB201_DATASETS:
        raise ValueError(
            f"dataset: --benchmark {benchmark} holds {', '.join(NB201_DATASETS)}, not {dataset!r}"
        )


@functools.cache
def nb201_accuracies(dataset: str) -> dict[str, float]:
    """Arch string -> 200-epoch test accuracy (%) on ``dataset``, in NAS-Bench-201 index order."""
    check_benchmark(NB201, dataset)
    with resources.files(__package__).joinpath(_FILE).open("rb") as raw:
        text = gzip.decompress(raw.read()).decode()
    return {row["arch"]: float(row[dataset]) for row in csv.DictReader(io.StringIO(text))}


def nb201_accuracy(arch: str, dataset: str) -> float:
    """The test accuracy (%) of the arch string ``arch`` on ``dataset``.

    Raises:
        ValueError: for a data set the table lacks, or an arch string it does not hold.
    """
    accuracies = nb201_accuracies(dataset)
    if arch not in accuracies:
        raise ValueError(f"arch: {arch!r} is not one of NAS-Bench-201's 15,625 arch strings")
    return accuracies[arch]
