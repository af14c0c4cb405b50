"""The evaluator seam: what turns an accepted config into the outcome its trial record stores.

The trial runner (``_trial.TrialRunner``, and the Ray trainable) calls an ``Evaluator`` (the
protocol in ``_trial.py``) and does not know which one it has. ``ProxyTraining`` profiles and
trains the config on the search's data set (loaded once per process); ``TableLookup`` reads the
accuracy that a benchmark table holds for it (``--benchmark nb201``: NAS-Bench-201's 200-epoch
test accuracy) and trains nothing. ``make_evaluator`` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archbench.search._trial import (
    Evaluator,
    LatencyRejection,
    OnProfile,
    Report,
    ShouldStop,
    TrialContext,
    TrialOutcome,
    free_accelerator_memory,
)

if TYPE_CHECKING:
    from archbench.data import Dataset
    from archbench.models import ModelConfig
    from archbench.train import TrainRecipe


@dataclass(frozen=True)
class TrialData:
    """The data and recipe of a search, loaded once per process and shared by its trials."""

    recipe: TrainRecipe
    train: Dataset
    val: Dataset

    @classmethod
    def load(cls, context: TrialContext) -> TrialData:
        from archbench.data import load_dataset, split_train_val

        settings, recipe = context.settings, context.recipe
        full = load_dataset(settings.dataset, "train", settings.data_dir)
        train, val = split_train_val(
            full, val_fraction=recipe.val_fraction, seed=context.split_seed, subset=settings.subset
        )
        return cls(recipe, train, val)


def profile_config(
    cfg: ModelConfig, context: TrialContext, batch_size: int, recipe: TrainRecipe
) -> dict[str, Any] | None:
    """The hardware profile of ``cfg`` as ``recipe`` trains it: its optimizer state, autocast
    precision, memory format and compile."""
    settings = context.settings
    if settings.profile == "none":
        return None
    import torch

    from archbench.hwprofile import profile_model
    from archbench.train import profile_options

    device = context.device
    result = profile_model(
        cfg,
        device=device,
        batch_size=batch_size,
        level="full" if settings.profile == "full" else "basic",
        memory=settings.budget.memory_bytes,
        optimizer="adamw" if recipe.optimizer == "adamw" else "sgd",
        max_batch=settings.profile == "full" and device.startswith("cuda"),
        shared_device=context.shared_device,
        **profile_options(recipe, torch.device(device)),
    )
    return result.to_dict()


@dataclass
class ProxyTraining:
    """Profiles a config, so that a latency cap rejects it before training, then trains it with
    the search's recipe on its data, on the device of this process's ``context``.

    ``data`` is loaded on first use, in the process that trains, where ``auto`` is resolved.
    """

    context: TrialContext
    data: TrialData | None = None

    def __post_init__(self) -> None:
        from archbench.hwprofile import resolve_device

        resolved = str(resolve_device(self.context.device))
        self.context = self.context.on_device(resolved, self.context.shared_device)

    @property
    def in_child_process(self) -> bool:
        return self.context.in_child_process

    def release(self) -> None:
        free_accelerator_memory()

    def trial_data(self) -> TrialData:
        if self.data is None:
            self.data = TrialData.load(self.context)
        return self.data

    def __call__(
        self,
        cfg: ModelConfig,
        report: Report,
        should_stop: ShouldStop,
        on_profile: OnProfile | None = None,
    ) -> TrialOutcome:
        """Raises ``LatencyRejection`` when the measured latency is over ``--max-latency-ms``."""
        from archbench.train import train_model

        data = self.trial_data()
        batch_size = min(data.recipe.batch_size, 64)
        profile = profile_config(cfg, self.context, batch_size, data.recipe)
        if profile is not None and on_profile is not None:
            on_profile(profile)
        limit = self.context.settings.budget.max_latency_ms
        if limit is not None and profile is not None:
            latency = profile.get("latency_ms_median")
            if latency is not None and latency > limit:
                raise LatencyRejection(latency, limit, profile)
        result = train_model(
            cfg,
            data.recipe,
            train_data=data.train,
            val_data=data.val,
            device=self.context.device,
            report=report,
            should_stop=should_stop,
        )
        return TrialOutcome(
            metrics=list(result.history),
            val_accuracy=float(result.best_val_accuracy),
            epochs_trained=int(result.epochs_trained),
            stopped_early=bool(result.stopped_early),
            seconds=float(result.seconds),
            profile=profile,
        )


@dataclass(frozen=True)
class TableLookup:
    """Looks ``cfg`` up in the ``--benchmark`` table: its accuracy there, as a fraction, with the
    table's epochs; no profile, no training, in milliseconds."""

    benchmark: str
    dataset: str

    @property
    def in_child_process(self) -> bool:
        return False

    def release(self) -> None:
        """Nothing to return: a lookup builds nothing (and a full ``gc.collect`` per trial would
        cost more than the lookup)."""

    def __call__(
        self,
        cfg: ModelConfig,
        report: Report,
        should_stop: ShouldStop,
        on_profile: OnProfile | None = None,
    ) -> TrialOutcome:
        from archbench.models._nb201 import NB201Config
        from archbench.tables import NB201_EPOCHS, nb201_accuracy

        if not isinstance(cfg, NB201Config) or (cfg.channels, cfg.cells_per_stage) != (16, 5):
            raise ValueError(
                f"benchmark: the {self.benchmark} table holds nb201 networks of 16 channels and "
                "5 cells per stage only"
            )
        accuracy = round(nb201_accuracy(cfg.arch, self.dataset) / 100.0, 6)
        return TrialOutcome(
            metrics=[{"epoch": NB201_EPOCHS, "val_accuracy": accuracy}],
            val_accuracy=accuracy,
            epochs_trained=NB201_EPOCHS,
            benchmark={"name": self.benchmark, "dataset": self.dataset},
        )


def make_evaluator(context: TrialContext) -> Evaluator:
    """The evaluator of a search: the ``--benchmark`` table if it names one, else training."""
    settings = context.settings
    if settings.benchmark is not None:
        return TableLookup(settings.benchmark, settings.dataset)
    return ProxyTraining(context)
