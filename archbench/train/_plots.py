"""PNG plots of a run: learning curves and the confusion matrix.

Figures are drawn with matplotlib's object API and saved through its Agg renderer, never through
``pyplot``, so plotting needs no display and leaves the caller's global backend alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def plot_history(history: Sequence[dict[str, float]], path: str | Path) -> Path:
    """Loss and accuracy per epoch, training against validation, side by side.

    The training loss includes the recipe's label smoothing, so with smoothing it sits above the
    validation loss even when the model fits the training data better.
    """
    figure = Figure(figsize=(10, 4), layout="constrained")
    epochs = [m["epoch"] for m in history]
    for axes, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        for split, style in (("train", "-o"), ("val", "-s")):
            axes.plot(epochs, [m[f"{split}_{metric}"] for m in history], style, label=split, ms=3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    return _save(figure, path)


def plot_confusion(
    confusion: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path
) -> Path:
    """The confusion matrix, colored by the share of each true class, annotated with counts."""
    size = len(classes)
    shares = [[count / max(1, sum(row)) for count in row] for row in confusion]
    side = min(12.0, 3.0 + 0.45 * size)
    figure = Figure(figsize=(side, side), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, shrink=0.8, label="share of the true class")
    if size <= 20:  # counts stay legible up to about 20 classes
        for i, row in enumerate(confusion):
            for j, count in enumerate(row):
                color = "white" if shares[i][j] > 0.5 else "black"
                axes.text(j, i, str(count), ha="center", va="center", fontsize=8, color=color)
    ticks = range(size) if size <= 20 else range(0, size, max(1, size // 20))
    axes.set_xticks(list(ticks), [classes[i] for i in ticks], rotation=90)
    axes.set_yticks(list(ticks), [classes[i] for i in ticks])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    return _save(figure, path)


def _save(figure: Figure, path: str | Path) -> Path:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(file, dpi=120)
    return file
