"""What a fidelity run trains: the settings, and one search study per training setting.

Each proxy setting (epochs, on ``proxy_subset`` of the data) and each reference seed (the
recipe at ``reference_epochs``, its schedule stretched with it) is one ``SearchSettings``, run by
the search core over the same K enqueued configs and stored in a study of its own:
``<study>:epochs=2``, ``<study>:reference:seed=0``. With a ``benchmark`` the one reference is
its table (``<study>:reference:nb201``), looked up by the same search core, and nothing trains.
The pool and its zero-cost scores live in the user attrs of the parent study ``<study>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from archbench._units import format_count
from archbench.budget import Budget
from archbench.search import RaySettings, SearchSettings
from archbench.zerocost import resolve_scores

# Always compared: the exact counters, whatever --scores chose.
SIZE_SCORES = ("params", "flops")


def proxy_label(epochs: int) -> str:
    return f"epochs={epochs}"


def reference_label(seed: int) -> str:
    return f"reference:seed={seed}"


def benchmark_label(benchmark: str) -> str:
    return f"reference:{benchmark}"


@dataclass(frozen=True)
class Training:
    """One training setting: its label (a key of the report), its settings, and its study."""

    label: str
    settings: SearchSettings
    reference: bool
    train_seed: int | None = None  # seeds the training instead of the recipe (reference seeds)

    @property
    def epochs(self) -> int:
        assert self.settings.epochs is not None
        return self.settings.epochs


@dataclass(frozen=True)
class FidelitySettings:
    """Everything one fidelity run needs; validated here so bad input is one clear line."""

    space: str
    budget: Budget
    samples: int
    proxy_epochs: tuple[int, ...]
    reference_epochs: int
    dataset: str = "mnist5k"
    data_dir: str | None = None
    recipe: str = "proxy"
    proxy_subset: float = 1.0
    reference_seeds: int = 1
    scores: tuple[str, ...] = ("all",)
    storage: str | None = None
    study: str | None = None
    seed: int = 0
    workers: int = 1
    backend: str = "optuna"
    # --backend ray: where and on what each training runs (its scheduler is always FIFO: every
    # config trains every epoch of a setting, none is stopped early).
    ray: RaySettings | None = None
    device: str = "auto"
    isolation: str = "auto"
    epoch_timeout_seconds: float = 3600.0
    # Train again the configs whose training failed (a lost worker, a killed process);
    # by default a failed config stays missing, as a rerun must not change the figures.
    retry_failed: bool = False
    # The reference is this table's accuracy (``--benchmark nb201``): no proxy, no training.
    benchmark: str | None = None
    score_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.samples < 2:
            raise ValueError(f"samples: a ranking needs at least 2 configs, got {self.samples}")
        if self.benchmark is not None:
            self._check_benchmark()
        elif not self.proxy_epochs or any(e < 1 for e in self.proxy_epochs):
            raise ValueError(
                f"proxy_epochs: give epochs >= 1, e.g. 1,2; got {list(self.proxy_epochs)}"
            )
        if len(set(self.proxy_epochs)) != len(self.proxy_epochs):
            raise ValueError(f"proxy_epochs: each value once, got {list(self.proxy_epochs)}")
        if self.reference_epochs < 1:
            raise ValueError(f"reference_epochs: must be >= 1, got {self.reference_epochs}")
        if self.reference_seeds < 1:
            raise ValueError(f"reference_seeds: must be >= 1, got {self.reference_seeds}")
        if self.seed < 0:
            raise ValueError(f"seed: must be >= 0, got {self.seed}")
        chosen = resolve_scores(list(self.scores))
        names = [*SIZE_SCORES, *(name for name in chosen if name not in SIZE_SCORES)]
        object.__setattr__(self, "score_names", tuple(names))
        self.trainings()  # the search settings check the rest (subset, workers, ...)

    def _check_benchmark(self) -> None:
        from archbench.tables import NB201_EPOCHS

        if self.proxy_epochs:
            raise ValueError(
                f"proxy_epochs: --benchmark {self.benchmark} trains nothing; drop --proxy-epochs"
            )
        if self.reference_epochs != NB201_EPOCHS or self.reference_seeds != 1:
            raise ValueError(
                f"reference_epochs: the {self.benchmark} table holds one {NB201_EPOCHS}-epoch "
                "training per config; drop --reference-epochs and --reference-seeds"
            )

    @property
    def study_name(self) -> str:
        from archbench.data import dataset_label

        space = self.space.rsplit("/", 1)[-1].split(".")[0]
        return (
            f"fidelity-{space}-{format_count(self.budget.max_params)}-{dataset_label(self.dataset)}"
            f"{f'-{self.benchmark}table' if self.benchmark else ''}"
            f"-k{self.samples}-seed{self.seed}"
        )

    @property
    def name(self) -> str:
        return self.study or self.study_name

    def trainings(self) -> list[Training]:
        """The proxy settings, cheapest first, then the reference seeds (or the table)."""
        if self.benchmark is not None:
            label = benchmark_label(self.benchmark)
            return [Training(label, self._search(label, self.reference_epochs, 1.0), True)]
        proxies = [
            Training(proxy_label(e), self._search(proxy_label(e), e, self.proxy_subset), False)
            for e in sorted(self.proxy_epochs)
        ]
        references = [
            Training(
                reference_label(s),
                self._search(reference_label(s), self.reference_epochs, 1.0),
                True,
                s,
            )
            for s in range(self.reference_seeds)
        ]
        return proxies + references

    def _search(self, label: str, epochs: int, subset: float) -> SearchSettings:
        return SearchSettings(
            space=self.space,
            budget=self.budget,
            n_trials=self.samples,
            sampler="random",
            pruner="none",
            dataset=self.dataset,
            data_dir=self.data_dir,
            recipe=self.recipe,
            epochs=epochs,
            subset=subset,
            storage=self.storage,
            study=f"{self.name}:{label}",
            seed=self.seed,
            workers=self.workers,
            backend=self.backend,
            device=self.device,
            profile="none",
            isolation=self.isolation,
            epoch_timeout_seconds=self.epoch_timeout_seconds,
            benchmark=self.benchmark,
            ray=replace(self.ray or RaySettings(), scheduler="fifo")
            if self.backend == "ray"
            else None,
        )
