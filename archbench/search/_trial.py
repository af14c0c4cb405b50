"""Running one trial of a search: the runner both backends call, its context and its outcome.

The runner hands an accepted config to the search's evaluator (``_evaluate.py``) and turns any
failure into one line. Backend-neutral: the caller passes ``report(epoch, metrics)`` and
``should_stop()`` (Optuna's ``trial.report``/``should_prune`` or Ray's ``tune.report``). With
``isolation="process"`` every trial runs in a fresh spawned process that talks to the parent
over a pipe, so a trial cannot leak GPU memory into the next one (a known pain with one
long-lived Optuna process) and a crash takes down only its own trial. On a CPU the default runs
inline and collects garbage after each trial.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from archbench.models import ModelConfig, config_from_dict
from archbench.search._settings import SearchSettings
from archbench.spaces import DataShape

if TYPE_CHECKING:
    from archbench.spaces import SearchSpace
    from archbench.train import TrainRecipe

Report = Callable[[int, dict[str, float]], None]
ShouldStop = Callable[[], bool]
OnProfile = Callable[[dict[str, Any]], None]


@dataclass
class TrialOutcome:
    """What a trial's evaluator produced; ``stopped_early`` means the pruner/scheduler stopped it.

    ``benchmark`` ({name, dataset}) names the table the accuracy was looked up in.
    """

    metrics: list[dict[str, float]] = field(default_factory=list)
    val_accuracy: float = 0.0
    epochs_trained: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    profile: dict[str, Any] | None = None
    benchmark: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TrialError(RuntimeError):
    """A trial failed; ``reason`` is the one line stored with it (OOM, non-finite loss, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LatencyRejection(Exception):
    """The measured latency is over ``--max-latency-ms``: the trial is rejected, not failed."""

    def __init__(self, latency_ms: float, limit_ms: float, profile: dict[str, Any]) -> None:
        super().__init__(f"latency {latency_ms:.2f} ms over the cap of {limit_ms:g} ms")
        self.latency_ms = latency_ms
        self.limit_ms = limit_ms
        self.profile = profile


@dataclass(frozen=True)
class TrialContext:
    """What the trials of a search share: its settings, and what they resolve to, once.

    The process that prepares the study makes it (``of``) and hands it to its workers and Ray
    actors, which only set their own device (``on_device``): the space, data shape and recipe
    are not built again. What they resolve is left out of their equality (it follows from the
    settings), so a Ray actor can key its evaluator on the context.

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

    @property
    def in_child_process(self) -> bool:
        """Whether each trial runs in a fresh process: ``--isolation``, or a CUDA device."""
        if self.settings.isolation == "auto":
            return self.device.startswith("cuda")
        return self.settings.isolation == "process"


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


def describe_failure(exc: BaseException) -> str:
    """One line that says why a trial failed."""
    from archbench.hwprofile import is_oom_error
    from archbench.train import NonFiniteLossError

    if isinstance(exc, TrialError):
        return exc.reason
    if is_oom_error(exc):
        lines = str(exc).strip().splitlines()
        return "out of memory: " + (lines[0][:200] if lines else type(exc).__name__)
    if isinstance(exc, NonFiniteLossError):
        return f"non-finite loss: {exc}"
    message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class Evaluator(Protocol):
    """Config -> outcome. Picklable: with process isolation it runs in the trial's child.

    ``make_evaluator`` (``_evaluate.py``) picks the search's; tests and benchmarks pass their own
    to ``run``.
    """

    @property
    def in_child_process(self) -> bool:
        """Whether each evaluation runs in a fresh process of its own (``--isolation``)."""
        ...

    def release(self) -> None:
        """Returns what an inline evaluation held (accelerator memory) before the next one."""

    def __call__(
        self,
        cfg: ModelConfig,
        report: Report,
        should_stop: ShouldStop,
        on_profile: OnProfile | None = None,
    ) -> TrialOutcome: ...


def free_accelerator_memory() -> None:
    """Returns the memory of a finished trial before the next one starts."""
    import torch

    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


class TrialRunner:
    """Runs trials of one search through its evaluator (``_evaluate.py``), inline or each in a
    fresh child process, and turns any failure into a one-line ``TrialError``."""

    def __init__(self, settings: SearchSettings, evaluator: Evaluator) -> None:
        self.settings = settings
        self.evaluator = evaluator
        self.isolated = evaluator.in_child_process

    def run(self, cfg: ModelConfig, report: Report, should_stop: ShouldStop) -> TrialOutcome:
        """Evaluates ``cfg``; raises ``TrialError`` or ``LatencyRejection`` when it cannot."""
        if self.isolated:
            return self._run_in_child(cfg, report, should_stop)
        reason = None
        try:
            return self.evaluator(cfg, report, should_stop)
        except LatencyRejection:
            raise
        except Exception as exc:
            # The reason only: the exception's traceback holds the model, the optimizer and
            # the activations, which must not outlive the trial (Optuna keeps what it raised).
            reason = describe_failure(exc)
        finally:
            self.evaluator.release()
        raise TrialError(reason)

    def _run_in_child(
        self, cfg: ModelConfig, report: Report, should_stop: ShouldStop
    ) -> TrialOutcome:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        # Not a daemon: the trial may start children of its own (the max-batch probe), which a
        # daemonic process cannot. The ``finally`` below kills it whatever happens.
        process = context.Process(
            target=_child_main,
            args=(self.evaluator, cfg.to_dict(), child_end),
            daemon=False,
        )
        process.start()
        child_end.close()
        deadline = self.settings.epoch_timeout_seconds
        try:
            while True:
                if not parent_end.poll(deadline):
                    raise TrialError(
                        f"no epoch finished within {deadline:g} s (--epoch-timeout); "
                        "the trial process was killed"
                    )
                try:
                    message = parent_end.recv()
                except EOFError:
                    process.join(timeout=10)
                    raise TrialError(
                        f"trial process died with exit code {process.exitcode}"
                    ) from None
                kind = message[0]
                if kind == "epoch":
                    report(message[1], message[2])
                    parent_end.send(should_stop())
                elif kind == "done":
                    return TrialOutcome(**message[1])
                elif kind == "latency":
                    raise LatencyRejection(message[1], message[2], message[3])
                else:
                    raise TrialError(message[1])
        finally:
            parent_end.close()
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()


def _child_main(evaluator: Evaluator, config: dict[str, Any], conn: Any) -> None:
    """Entry point of a per-trial child process: evaluates and sends results over ``conn``."""

    def report(epoch: int, metrics: dict[str, float]) -> None:
        conn.send(("epoch", epoch, dict(metrics)))
        stop_requests.append(conn.recv())

    stop_requests: list[bool] = []
    try:
        outcome = evaluator(
            config_from_dict(config), report, lambda: bool(stop_requests and stop_requests[-1])
        )
        conn.send(("done", outcome.to_dict()))
    except LatencyRejection as exc:
        conn.send(("latency", exc.latency_ms, exc.limit_ms, exc.profile))
    except BaseException as exc:  # the parent records the reason; the traceback helps debugging
        conn.send(("error", describe_failure(exc), traceback.format_exc()))
    finally:
        conn.close()
