"""Proxy training: profile a config on the trial's device, then train it with a short recipe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archbench.evaluators._protocol import (
    LatencyRejection,
    OnProfile,
    Report,
    ShouldStop,
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
    def load(
        cls, dataset: str, data_dir: str | None, subset: float, recipe: TrainRecipe, split_seed: int
    ) -> TrialData:
        from archbench.data import load_dataset, split_train_val

        full = load_dataset(dataset, "train", data_dir)
        train, val = split_train_val(
            full, val_fraction=recipe.val_fraction, seed=split_seed, subset=subset
        )
        return cls(recipe, train, val)


@dataclass
class ProxyTraining:
    """Profiles a config, so that a latency cap rejects it before training, then trains it with
    ``recipe`` on the training split of ``dataset``, on ``device``.

    Attributes:
        split_seed: the seed of the validation split: the recipe's, also where a training seed
            replaced the recipe's, so that trainings differing by it share their validation set.
        device: ``auto`` is resolved here, in the process that trains.
        shared_device: other processes train on the same CUDA card now, so the profile's
            timings and memory figures are not the model's own (docs/CONTRACTS.md).
        profile: ``none``, ``basic`` or ``full`` (``full`` also probes the max batch on CUDA).
        memory_bytes: the memory the profile sizes its max batch against (``--memory``).
        max_latency_ms: a measured latency over it rejects the config before it trains.
        isolation: ``process`` runs each trial in a fresh process, ``inline`` in this one, and
            ``auto`` does the first on CUDA only.
        data: loaded on first use, in the process that trains.
    """

    dataset: str
    recipe: TrainRecipe
    split_seed: int
    device: str = "cpu"
    data_dir: str | None = None
    subset: float = 1.0
    shared_device: bool = False
    profile: str = "none"
    memory_bytes: int | None = None
    max_latency_ms: float | None = None
    isolation: str = "auto"
    data: TrialData | None = None

    def __post_init__(self) -> None:
        from archbench.hwprofile import resolve_device

        self.device = str(resolve_device(self.device))

    @property
    def in_child_process(self) -> bool:
        if self.isolation == "auto":
            return self.device.startswith("cuda")
        return self.isolation == "process"

    def release(self) -> None:
        free_accelerator_memory()

    def trial_data(self) -> TrialData:
        if self.data is None:
            self.data = TrialData.load(
                self.dataset, self.data_dir, self.subset, self.recipe, self.split_seed
            )
        return self.data

    def __call__(
        self,
        cfg: ModelConfig,
        report: Report,
        should_stop: ShouldStop,
        on_profile: OnProfile | None = None,
    ) -> TrialOutcome:
        """Raises ``LatencyRejection`` when the measured latency is over ``max_latency_ms``."""
        from archbench.train import train_model

        data = self.trial_data()
        profile = self._profile(cfg, min(data.recipe.batch_size, 64), data.recipe)
        if profile is not None and on_profile is not None:
            on_profile(profile)
        limit = self.max_latency_ms
        if limit is not None and profile is not None:
            latency = profile.get("latency_ms_median")
            if latency is not None and latency > limit:
                raise LatencyRejection(latency, limit, profile)
        result = train_model(
            cfg,
            data.recipe,
            train_data=data.train,
            val_data=data.val,
            device=self.device,
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

    def _profile(
        self, cfg: ModelConfig, batch_size: int, recipe: TrainRecipe
    ) -> dict[str, Any] | None:
        """The hardware profile of ``cfg`` as ``recipe`` trains it: its optimizer state,
        autocast precision, memory format and compile."""
        if self.profile == "none":
            return None
        import torch

        from archbench.hwprofile import profile_model
        from archbench.train import profile_options

        result = profile_model(
            cfg,
            device=self.device,
            batch_size=batch_size,
            level="full" if self.profile == "full" else "basic",
            memory=self.memory_bytes,
            optimizer="adamw" if recipe.optimizer == "adamw" else "sgd",
            max_batch=self.profile == "full" and self.device.startswith("cuda"),
            shared_device=self.shared_device,
            **profile_options(recipe, torch.device(self.device)),
        )
        return result.to_dict()
