"""The evaluator seam: what turns an accepted config into the outcome its trial record stores.

The trial body (``_trial.TrialRunner``, and the Ray trainable) calls an ``Evaluator`` (the
protocol in ``_trial.py``) and does not know which one it has. ``ProxyTraining`` profiles and
trains the config on the search's data set; ``TableLookup`` reads the accuracy that a benchmark
table holds for it (``--benchmark nb201``: NAS-Bench-201's 200-epoch test accuracy) and trains
nothing. ``make_evaluator`` picks one from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archbench.search._trial import (
    Body,
    Evaluator,
    OnProfile,
    Report,
    ShouldStop,
    TrialContext,
    TrialData,
    TrialOutcome,
    free_accelerator_memory,
    train_config,
)

if TYPE_CHECKING:
    from archbench.models import ModelConfig


@dataclass
class ProxyTraining:
    """Profiles ``cfg`` and trains it with the search's recipe on its data (``train_config``),
    on the device of this process's ``context``.

    ``data`` is loaded on first use, in the process that trains; ``body`` replaces
    ``train_config`` (a module-level function, so that a child process can receive it).
    """

    context: TrialContext
    data: TrialData | None = None
    body: Body = train_config

    @property
    def in_child_process(self) -> bool:
        return self.context.in_child_process

    def release(self) -> None:
        free_accelerator_memory()

    def trial_data(self) -> TrialData:
        if self.data is None:
            self.data = TrialData.load(self.context.settings)
        return self.data

    def __call__(
        self,
        cfg: ModelConfig,
        report: Report,
        should_stop: ShouldStop,
        on_profile: OnProfile | None = None,
    ) -> TrialOutcome:
        return self.body(cfg, self.context, self.trial_data(), report, should_stop, on_profile)


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
