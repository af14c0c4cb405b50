"""Everything one search needs to know, as one frozen, picklable record.

Worker processes and per-trial child processes receive this record and rebuild their own data,
models and storage connections from it, so nothing unpicklable crosses a process boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from archbench.budget import Budget
from archbench.store import OBJECTIVES

if TYPE_CHECKING:
    from archbench.train import TrainRecipe

SAMPLERS = ("tpe", "random", "gp", "qmc", "nsga2", "rea")
PRUNERS = ("median", "hyperband", "none")
PROFILE_LEVELS = ("none", "basic", "full")
ISOLATION = ("auto", "inline", "process")
SCHEDULERS = ("asha", "fifo")
BACKENDS = ("optuna", "ray")
CHOICES = {
    "sampler": SAMPLERS, "pruner": PRUNERS, "profile": PROFILE_LEVELS, "isolation": ISOLATION,
    "backend": BACKENDS,
}  # fmt: skip


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{option}: {value!r} is unknown; choose {', '.join(choices)}")


@dataclass(frozen=True)
class RaySettings:
    """How ``--backend ray`` runs trials: where, on what resources, and how it stops them early.

    ``address=None`` starts a local Ray runtime; ``"auto"`` joins the cluster of ``ray start``.
    ``storage_path`` is where Ray keeps its experiment state (shared storage on a cluster);
    ``None`` puts it next to the archbench database.
    """

    address: str | None = None
    scheduler: str = "asha"
    grace_period: int = 1
    reduction_factor: int = 4
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 0
    storage_path: str | None = None

    def __post_init__(self) -> None:
        _check_choice("scheduler", self.scheduler, SCHEDULERS)
        if self.grace_period < 1:
            raise ValueError(f"grace_period: must be >= 1 epoch, got {self.grace_period}")
        if self.reduction_factor < 2:
            raise ValueError(f"reduction_factor: must be >= 2, got {self.reduction_factor}")
        if self.cpus_per_trial <= 0:
            raise ValueError(f"cpus_per_trial: must be > 0, got {self.cpus_per_trial}")
        if self.gpus_per_trial < 0:
            raise ValueError(f"gpus_per_trial: must be >= 0, got {self.gpus_per_trial}")
        if self.max_failures < -1:
            raise ValueError(f"max_failures: must be >= 0 (-1: no limit), got {self.max_failures}")


@dataclass(frozen=True)
class SearchSettings:
    space: str
    budget: Budget
    n_trials: int
    objectives: tuple[str, ...] = ("accuracy",)
    sampler: str = "tpe"
    pruner: str = "median"
    dataset: str = "mnist5k"
    data_dir: str | None = None
    recipe: str = "proxy"
    epochs: int | None = None
    subset: float = 1.0
    storage: str | None = None
    study: str | None = None
    seed: int | None = None
    workers: int = 1
    device: str = "auto"
    profile: str = "basic"
    isolation: str = "auto"
    baselines: tuple[str, ...] = ()
    max_rejections: int | None = None
    heartbeat_seconds: int = 30
    epoch_timeout_seconds: float = 3600.0
    backend: str = "optuna"
    ray: RaySettings | None = None
    # --prescreen K --zero-cost SCORE [--prescreen-top T]: score K feasible configs at
    # initialisation and train the best T first (search/_prescreen.py).
    prescreen: int | None = None
    zero_cost: str | None = None
    prescreen_top: int | None = None
    # Look each config's accuracy up in this table instead of training it
    # (``archbench.evaluators.TableLookup``); ``dataset`` then names one of the table's data sets.
    benchmark: str | None = None

    def __post_init__(self) -> None:
        for option, choices in CHOICES.items():
            _check_choice(option, getattr(self, option), choices)
        if self.n_trials < 1:
            raise ValueError(f"trials: must be >= 1, got {self.n_trials}")
        if not self.objectives or any(o not in OBJECTIVES for o in self.objectives):
            raise ValueError(
                f"objective: {','.join(self.objectives)!r} is not allowed; use accuracy, "
                "accuracy,params, accuracy,latency or accuracy,throughput"
            )
        if self.objectives[0] != "accuracy" or len(set(self.objectives)) != len(self.objectives):
            raise ValueError("objective: the first objective must be accuracy, each at most once")
        if self.sampler == "nsga2" and len(self.objectives) < 2:
            raise ValueError("sampler: nsga2 is for multi-objective searches, e.g. accuracy,params")
        if self.sampler == "rea" and len(self.objectives) > 1:
            raise ValueError("sampler: rea optimizes accuracy alone; use nsga2 or tpe for two")
        if not 0.0 < self.subset <= 1.0:
            raise ValueError(f"subset: must be in (0, 1], got {self.subset}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs: must be >= 1, got {self.epochs}")
        if self.epoch_timeout_seconds <= 0:
            raise ValueError(
                f"epoch_timeout: must be > 0 seconds, got {self.epoch_timeout_seconds:g}"
            )
        if self.workers < 1:
            raise ValueError(f"workers: must be >= 1, got {self.workers}")
        if self.profile == "none" and set(self.objectives) & {"latency", "throughput"}:
            raise ValueError(
                "profile: latency and throughput objectives need --profile basic or full"
            )
        if self.profile == "none" and self.budget.max_latency_ms is not None:
            raise ValueError("profile: --max-latency-ms needs --profile basic or full")
        self._check_prescreen()
        self._check_benchmark()

    def _check_benchmark(self) -> None:
        if self.benchmark is None:
            return
        from archbench.spaces import get_space
        from archbench.tables import check_benchmark

        check_benchmark(self.benchmark, self.dataset)
        family = get_space(self.space).family
        if family != self.benchmark:
            raise ValueError(
                f"benchmark: --benchmark {self.benchmark} holds {self.benchmark} networks only; "
                f"use --space {self.benchmark}, not a {family} space"
            )
        if self.budget.fit:
            raise ValueError(
                f"benchmark: the {self.benchmark} table holds its networks at their own width; "
                "drop --fit-budget"
            )
        if set(self.objectives) & {"latency", "throughput"} or self.budget.max_latency_ms:
            raise ValueError(
                f"benchmark: --benchmark {self.benchmark} looks accuracies up and measures no "
                "latency; use --objective accuracy or accuracy,params"
            )

    def _check_prescreen(self) -> None:
        if self.prescreen is None:
            if self.zero_cost is not None or self.prescreen_top is not None:
                raise ValueError("prescreen: --zero-cost and --prescreen-top need --prescreen K")
            return
        if self.prescreen < 1:
            raise ValueError(f"prescreen: must be >= 1 config, got {self.prescreen}")
        if self.zero_cost is None:
            raise ValueError("zero_cost: --prescreen needs a score, e.g. --zero-cost synflow")
        from archbench.zerocost import resolve_scores

        resolve_scores([self.zero_cost])  # one line listing the scores for a typo
        top = self.prescreen_count
        if top < 1 or top > self.prescreen:
            raise ValueError(
                f"prescreen_top: must be between 1 and --prescreen {self.prescreen}, got {top}"
            )
        if top > self.n_trials:
            raise ValueError(f"prescreen_top: {top} is more than the {self.n_trials} --trials")

    def trial_recipe(self) -> TrainRecipe:
        """The recipe every trial trains with: ``--recipe`` at ``--epochs``."""
        from archbench.train import resolve_recipe

        recipe = resolve_recipe(self.recipe)
        return recipe if self.epochs is None else replace(recipe, epochs=self.epochs)

    @property
    def directions(self) -> list[Literal["minimize", "maximize"]]:
        return [OBJECTIVES[name] for name in self.objectives]

    @property
    def prescreen_count(self) -> int:
        """How many of the prescreened configs train first: ``--prescreen-top``, else a quarter
        of ``--trials`` (at least one), so the sampler still chooses most trials."""
        if self.prescreen_top is not None:
            return self.prescreen_top
        return min(max(1, self.n_trials // 4), self.prescreen or 0)

    @property
    def rejection_limit(self) -> int:
        """How many over-budget proposals in a row a run tolerates before giving up."""
        return (
            self.max_rejections if self.max_rejections is not None else max(50, 20 * self.n_trials)
        )
