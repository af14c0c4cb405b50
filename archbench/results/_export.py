"""Export of the winners of a search: one YAML file per config, carrying its card.

Like a torchvision weights entry, the artifact carries what it costs and how it was measured
(docs/DESIGN.md, the card): the model config, its exact parameter count, FLOPs and MACs, the
proxy metrics, the hardware profile with its environment stamp, a full-training recipe and the
provenance. The file is the input of the next step as-is: ``archbench count``, ``profile`` and
``train`` read the config under ``model`` and the recipe under ``recipe`` (docs/DESIGN.md,
decision 9).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import yaml

import archbench
from archbench.models import config_from_dict, count_params
from archbench.results._columns import DEFAULT_EXPORT_RECIPE
from archbench.results._leaderboard import rank_trials
from archbench.results._trials import TrialRow, objectives_of, read_trials
from archbench.store import HAS_TRAINED, TRAINED, VERSION_ATTR, SearchSpec

if TYPE_CHECKING:
    from archbench.train import TrainRecipe

DEFAULT_TOP = 3
CHECK_EPOCHS = 3  # the short run that shows a recipe trains before a long one is started


@dataclass(frozen=True)
class ExportedConfig:
    """One written file, the command that trains it, and a short check to run first.

    Attributes:
        epochs: the recipe's epochs, which ``command`` trains.
        epoch_seconds: a training epoch's expected seconds on the search's device, from the
            trial's measured proxy throughput; None when the record has none.
        noisy: timing field -> why the profile's figure is noise rather than fact.
    """

    path: Path
    trial: int
    n_params: int
    val_accuracy: float | None
    command: str
    check_command: str
    epochs: int
    epoch_seconds: float | None
    noisy: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "trial": self.trial,
            "n_params": self.n_params,
            "val_accuracy": self.val_accuracy,
            "command": self.command,
            "check_command": self.check_command,
            "epochs": self.epochs,
            "epoch_seconds": self.epoch_seconds,
            "noisy": self.noisy,
        }

    def duration(self, epochs: int) -> str:
        """``about 2.5 min`` for that many epochs, or ``time unknown``."""
        if self.epoch_seconds is None:
            return "time unknown"
        return f"about {format_duration(self.epoch_seconds * epochs)}"


def select_trials(
    study: optuna.Study,
    *,
    top: int | None = None,
    pareto: bool = False,
    trial: int | None = None,
) -> list[TrialRow]:
    """The trials to export: the first ``top`` trained ones, the Pareto set, or one trial.

    Without a choice, the first ``DEFAULT_TOP`` trained trials in leaderboard order. Only trials
    that trained to the end have an accuracy worth taking to full training; ``trial`` also
    accepts one the pruner stopped, because a person asked for it by number.

    Raises:
        ValueError: when more than one selection is given, or nothing can be exported.
    """
    if sum((top is not None, pareto, trial is not None)) > 1:
        raise ValueError("export: choose one of --top, --pareto and --trial")
    rows = read_trials(study)
    if trial is not None:
        chosen = [row for row in rows if row.number == trial]
        if not chosen:
            raise ValueError(f"trial: study {study.study_name!r} has no trial {trial}")
        if chosen[0].status not in HAS_TRAINED or chosen[0].config is None:
            numbers = ", ".join(str(r.number) for r in rows if r.status == TRAINED) or "none"
            raise ValueError(
                f"trial: trial {trial} is {chosen[0].status} ({chosen[0].reason or 'no record'}); "
                f"trained trials: {numbers}"
            )
        return chosen
    if top is not None and top < 1:
        raise ValueError(f"top: must be >= 1, got {top}")
    ranked = rank_trials(rows, multi_objective=len(objectives_of(study)) > 1)
    trained = [entry.trial for entry in ranked if entry.trial.status == TRAINED]
    if pareto:
        trained = [row for row in trained if row.pareto]
    if not trained:
        raise ValueError(f"export: study {study.study_name!r} has no trained trial to export")
    return trained if pareto else trained[: top or DEFAULT_TOP]


def export_card(
    row: TrialRow, study: optuna.Study, *, storage_url: str, recipe: TrainRecipe
) -> dict[str, Any]:
    """The YAML document of one trial.

    ``n_params`` and FLOPs are recomputed from the config (the analytic counter and
    ``build_and_count_flops``), so the card is exact for the file whatever the record holds; a
    parameter count that differs from the stored one means the record does not describe this
    config.

    Raises:
        ValueError: when the stored parameter count disagrees with the config's.
    """
    from archbench.models import build_and_count_flops

    if row.config is None:
        raise ValueError(f"trial {row.number}: the record holds no model config")
    cfg = config_from_dict(row.config)
    n_params = count_params(cfg)
    if row.n_params is not None and row.n_params != n_params:
        raise ValueError(
            f"trial {row.number}: the stored n_params {row.n_params:,} differs from the config's "
            f"{n_params:,}; the study was written by archbench "
            f"{study.user_attrs.get(VERSION_ATTR, '?')}, this is {archbench.__version__}"
        )
    flops = build_and_count_flops(cfg)
    spec = SearchSpec.read(study.user_attrs)
    objectives = objectives_of(study)
    return {
        "model": cfg.to_dict(),
        "n_params": n_params,
        "flops": flops.flops,
        "macs": flops.macs,
        "metrics": {
            "dataset": spec.dataset,
            "subset": spec.subset,
            "val_accuracy": row.val_accuracy,
            "epochs_trained": row.epochs_trained,
            "objectives": dict(zip(objectives, row.values)) if row.values is not None else None,
            "history": [dict(epoch) for epoch in row.metrics],
            "proxy_recipe": spec.recipe,
        },
        "profile": row.profile,
        "recipe": recipe.to_dict(),
        "provenance": {
            "storage": storage_url,
            "study": study.study_name,
            "trial": row.number,
            "status": row.status,
            "baseline": row.baseline,
            "space": spec.space,
            "max_params": spec.max_params,
            "search_archbench_version": study.user_attrs.get(VERSION_ATTR),
            "archbench_version": archbench.__version__,
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }


def export_file_name(study_name: str, trial: int) -> str:
    """``<study>-trial-<N>.yaml`` with the study name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", study_name).strip("._") or "study"
    return f"{safe}-trial-{trial}.yaml"


def train_command(path: Path, dataset: str | None, epochs: int | None = None) -> str:
    """The command that takes an exported file to full training on the search's data set.

    With ``epochs``, the short check of the same recipe (its schedule compressed).
    """
    command = f"archbench train {shlex.quote(str(path))}"
    if dataset:
        command += f" --dataset {shlex.quote(dataset)}"
    return f"{command} --epochs {epochs}" if epochs is not None else command


def train_images(dataset: str | None, recipe: TrainRecipe) -> int | None:
    """The images a full training run on ``dataset`` trains on (its training split less the
    recipe's validation share); None when the data set is not known on this machine."""
    from archbench.data import dataset_info

    if dataset is None:
        return None
    try:
        return dataset_info(dataset).training_images(recipe.val_fraction)
    except ValueError:
        return None


def epoch_seconds(row: TrialRow, images: int | None) -> float | None:
    """A full-training epoch's seconds, from the proxy's measured images per second.

    The proxy trained on the same device, often on a subset and at a smaller batch; the
    throughput per image carries over, so the estimate is the training images over it.
    """
    speeds = [epoch["images_per_second"] for epoch in row.metrics if "images_per_second" in epoch]
    if not speeds or images is None:
        return None
    return images / max(speeds)


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def export_trials(
    study: optuna.Study,
    *,
    storage_url: str,
    out_dir: str | Path,
    top: int | None = None,
    pareto: bool = False,
    trial: int | None = None,
    recipe: str = DEFAULT_EXPORT_RECIPE,
    force: bool = False,
) -> list[ExportedConfig]:
    """Writes one YAML file per selected trial (see ``select_trials``) into ``out_dir``.

    Nothing is written unless every file can be: an existing file is kept, since a person may
    have edited it, unless ``force``.

    Args:
        storage_url: recorded in the provenance.
        recipe: a shipped recipe's name or a recipe file, for the full training. Its batch
            (and learning rate) is fitted to the size of the search's data set
            (``TrainRecipe.for_train_images``).

    Raises:
        ValueError: for a bad selection or recipe, a record that does not match its config, or
            an existing file without ``force``.
    """
    from archbench.train import resolve_recipe  # torch-backed: loaded only to export

    dataset = SearchSpec.read(study.user_attrs).dataset
    train_recipe = resolve_recipe(recipe)
    images = train_images(dataset, train_recipe)
    if images is not None:
        train_recipe = train_recipe.for_train_images(images)
    rows = select_trials(study, top=top, pareto=pareto, trial=trial)
    folder = Path(out_dir)
    paths = [folder / export_file_name(study.study_name, row.number) for row in rows]
    existing = [path for path in paths if path.exists()]
    if existing and not force:
        raise ValueError(f"export: {existing[0]} exists; pass --force to overwrite")
    cards = [export_card(row, study, storage_url=storage_url, recipe=train_recipe) for row in rows]
    folder.mkdir(parents=True, exist_ok=True)
    exported = []
    for row, path, card in zip(rows, paths, cards):
        item = ExportedConfig(
            path,
            row.number,
            card["n_params"],
            row.val_accuracy,
            command=train_command(path, dataset),
            check_command=train_command(path, dataset, CHECK_EPOCHS),
            epochs=train_recipe.epochs,
            epoch_seconds=epoch_seconds(row, images),
            noisy=row.noisy,
        )
        header = (
            f"# archbench export of trial {row.number} of study {study.study_name!r}.\n"
            f"# Check it first ({CHECK_EPOCHS} epochs, {item.duration(CHECK_EPOCHS)}): "
            f"{item.check_command}\n"
            f"# Train it ({item.epochs} epochs, {item.duration(item.epochs)}): {item.command}\n"
        )
        path.write_text(header + yaml.safe_dump(card, sort_keys=False))
        exported.append(item)
    return exported
