"""Tables of trained networks that a search can look up instead of training (``--benchmark``).

``nb201``: the 200-epoch test accuracy of NAS-Bench-201's 15,625 cell networks on CIFAR-10,
CIFAR-100 and ImageNet16-120 (``NOTICE`` names the source and its licence).
"""

from archbench.tables._nb201 import (
    BENCHMARKS,
    NB201,
    NB201_DATASETS,
    NB201_EPOCHS,
    check_benchmark,
    nb201_accuracies,
    nb201_accuracy,
)

__all__ = [
    "BENCHMARKS",
    "NB201",
    "NB201_DATASETS",
    "NB201_EPOCHS",
    "check_benchmark",
    "nb201_accuracies",
    "nb201_accuracy",
]
