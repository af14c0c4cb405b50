"""The trial context: a search's settings resolved once, and the evaluator its trials use
(``archbench.evaluators``): the ``--benchmark`` table, else proxy training; neither backend
knows which it has.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archbench.evaluators import Evaluator, ProxyTraining, TableLookup, TrialData
from archbench.search._settings import SearchSettings
from archbench.spaces import DataShape
from archbench.store import SearchSpec

if TYPE_CHECKING:
    from archbench.spaces import SearchSpace
    from archbench.train import TrainRecipe


@dataclass(frozen=True)
class TrialContext:
    """What the trials of a search share: its settings, and what they resolve to, once.

    Workers and Ray actors get it from the process that prepared the study and only set their
    device (``on_device``). What the settings resolve to is left out of equality, so that a Ray
    actor can key its evaluator on the context.

    Attributes:
        device: where this process's trials run: the settings' device until a worker or an
            actor is given its card; ``ProxyTraining`` resolves ``auto``.
        shared_device: other processes train on the same CUDA card now, so the profile's
            timings and memory figures are not the model's own (docs/CONTRACTS.md).
    """

    settings: SearchSettings
    device: str
    space: SearchSpace = field(compare=False)
    shape: DataShape = field(compare=False)
    recipe: TrainRecipe = field(compare=False)
    split_seed: int = field(compare=False)  # the seed of the validation split
    shared_device: bool = False
    pool_only: bool = False  # propose only the study's enqueued configs (``train_configs``)

    @classmethod
    def of(cls, settings: SearchSettings, train_seed: int | None = None) -> TrialContext:
        """Resolves ``settings``: the space, the data shape and the recipe of every trial.

        ``train_seed`` seeds the weights and the data order instead of the recipe's seed; the
        split keeps the recipe's, so trainings that differ only by it share their validation set
        (``archbench fidelity``'s reference seeds).

        Raises:
            ValueError: for an unknown space, data set or recipe, or missing data files.
        """
        from archbench.spaces import get_space

        recipe = settings.trial_recipe()
        split_seed = recipe.seed
        if train_seed is not None:
            recipe = dataclasses.replace(recipe, seed=train_seed)
        return cls(
            settings, settings.device, get_space(settings.space), data_shape(settings), recipe,
            split_seed,
        )  # fmt: skip

    def on_device(self, device: str, shared: bool = False) -> TrialContext:
        return dataclasses.replace(self, device=device, shared_device=shared)

    def evaluator(self) -> Evaluator:
        """The search's evaluator: the ``--benchmark`` table if it names one, else training."""
        if self.settings.benchmark is not None:
            return TableLookup(self.settings.benchmark, self.settings.dataset)
        return self.proxy_training()

    def spec(self) -> SearchSpec:
        """What the search asks, as its study stores it; a ``--benchmark`` lookup stores the
        table's epochs and no recipe."""
        from archbench.tables import NB201_EPOCHS

        settings, budget, looked_up = self.settings, self.settings.budget, self.settings.benchmark
        return SearchSpec(
            space=self.space.name, space_definition=self.space.to_dict(), family=self.space.family,
            max_params=budget.max_params, max_flops=budget.max_flops,
            max_latency_ms=budget.max_latency_ms, min_batch=budget.min_batch,
            memory_bytes=budget.memory_bytes, objectives=list(settings.objectives),
            dataset=settings.dataset, subset=settings.subset,
            epochs=NB201_EPOCHS if looked_up else self.recipe.epochs,
            recipe=None if looked_up else self.recipe.to_dict(), benchmark=settings.benchmark,
            sampler=settings.sampler, pruner=settings.pruner, backend=settings.backend,
        )  # fmt: skip

    def trial_data(self) -> TrialData:
        """The training and validation split of the trials, loaded here without a device (the
        prescreen and fidelity score on it, on a Ray driver that may own no GPU)."""
        settings = self.settings
        return TrialData.load(
            settings.dataset, settings.data_dir, settings.subset, self.recipe, self.split_seed
        )

    def proxy_training(self) -> ProxyTraining:
        """Proxy training as this context's trials train: on its device, with its recipe, on
        its data split and with its profile and latency cap."""
        settings = self.settings
        return ProxyTraining(
            settings.dataset, self.recipe, self.split_seed, self.device,
            data_dir=settings.data_dir, subset=settings.subset, shared_device=self.shared_device,
            profile=settings.profile, memory_bytes=settings.budget.memory_bytes,
            max_latency_ms=settings.budget.max_latency_ms, isolation=settings.isolation,
        )  # fmt: skip


def data_shape(settings: SearchSettings) -> DataShape:
    """The data set's shape from its metadata, or from the ``--benchmark`` table's; the images
    are loaded once, by the trainer.

    Raises:
        ValueError: for an unknown data set, or (the loader's clear error) missing files.
    """
    from archbench.data import dataset_info, load_dataset

    if settings.benchmark is not None:
        from archbench.tables import NB201_DATASETS

        return DataShape(*NB201_DATASETS[settings.dataset])

    info = dataset_info(settings.dataset, settings.data_dir)
    if not info.present:
        load_dataset(settings.dataset, "train", settings.data_dir)  # raises, naming the files
    channels, size, _ = info.shape
    return DataShape(info.num_classes, channels, size)
