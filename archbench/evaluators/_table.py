"""The table lookup: a config's accuracy read from a benchmark table, without training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archbench.evaluators._protocol import OnProfile, Report, ShouldStop, TrialOutcome

if TYPE_CHECKING:
    from archbench.models import ModelConfig


@dataclass(frozen=True)
class TableLookup:
    """Looks ``cfg`` up in the ``benchmark`` table (``nb201``: NAS-Bench-201's 200-epoch test
    accuracy): its accuracy there, as a fraction, with the table's epochs; no profile, no
    training, in milliseconds."""

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
