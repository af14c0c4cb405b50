"""Running a search with Optuna: study set-up, the objective, workers, resume.

The flow of one trial (docs/DESIGN.md): suggest params, decode, count, reject over-budget configs
before any build, profile, train with per-epoch reports for pruning, store everything as trial
user attrs. ``--trials N`` counts trials that trained; rejections are recorded and bounded.
Running the same command again resumes the study until N trials have trained in total.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

import archbench
from archbench._units import format_count
from archbench.models import get_preset
from archbench.search._budget import Decision, decide, ensure_feasible
from archbench.search._evaluate import make_evaluator
from archbench.search._gpus import environment, worker_devices
from archbench.search._ledger import claim, own, sweep_and_count
from archbench.search._optuna import learns_only_from_complete, make_pruner, make_sampler, suggest
from archbench.search._owner import host_name
from archbench.search._policy import StopPolicy
from archbench.search._prescreen import Prescreening, enqueue_top, ensure_prescreened, stored_pool
from archbench.search._record import (
    BASELINE,
    EPOCHS_TRAINED,
    FAILED,
    N_PARAMS,
    NOTHING_ENQUEUED,
    POOL_INDEX,
    PRUNED,
    QUOTA_REACHED,
    REASON,
    REJECTED,
    TRAINED,
    Placement,
    trial_status,
    write_decision,
    write_outcome,
    write_status,
)
from archbench.search._settings import SearchSettings
from archbench.search._settle import Ending, settle
from archbench.search._storage import open_storage
from archbench.search._trial import LatencyRejection, Runner, TrialRunner, describe_failure
from archbench.spaces import DataShape, SearchSpace, get_space

WORST_VALUES = {"accuracy": 0.0, "params": float(10**12), "latency": 1e9, "throughput": 0.0}


class SearchAborted(RuntimeError):
    """The search stopped before reaching its trials: too many rejections or failures."""


@dataclass(frozen=True)
class SearchSummary:
    study: str
    storage: str
    trained: int
    rejected: int
    pruned: int
    failed: int
    seconds: float
    best: list[dict[str, Any]]
    prescreen: dict[str, Any] | None = None  # score, samples, seconds of a --prescreen pool

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "storage": self.storage,
            "trained": self.trained,
            "rejected": self.rejected,
            "pruned": self.pruned,
            "failed": self.failed,
            "seconds": round(self.seconds, 2),
            "best": self.best,
            "prescreen": self.prescreen,
        }


def default_study_name(settings: SearchSettings) -> str:
    space = settings.space.rsplit("/", 1)[-1].split(".")[0]
    objectives = "" if settings.objectives == ("accuracy",) else "-" + "-".join(settings.objectives)
    from archbench.data import dataset_label  # an image folder's stem, not its path

    dataset = dataset_label(settings.dataset)
    dataset += f"-{settings.benchmark}table" if settings.benchmark else ""
    return f"{space}-{format_count(settings.budget.max_params)}-{dataset}{objectives}"


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


def _study_attrs(settings: SearchSettings, space: SearchSpace) -> dict[str, Any]:
    from archbench.tables import NB201_EPOCHS
    from archbench.train import resolve_recipe

    recipe = resolve_recipe(settings.recipe)
    if settings.epochs is not None:
        recipe = replace(recipe, epochs=settings.epochs)
    if settings.train_seed is not None:
        recipe = replace(recipe, seed=settings.train_seed)
    looked_up = settings.benchmark is not None
    return {
        "archbench_version": archbench.__version__,
        "space": space.name,
        "space_definition": space.to_dict(),
        "family": space.family,
        "max_params": settings.budget.max_params,
        "max_flops": settings.budget.max_flops,
        "max_latency_ms": settings.budget.max_latency_ms,
        "min_batch": settings.budget.min_batch,
        "memory_bytes": settings.budget.memory_bytes,
        "objectives": list(settings.objectives),
        "dataset": settings.dataset,
        "subset": settings.subset,
        "epochs": NB201_EPOCHS if looked_up else recipe.epochs,
        "recipe": None if looked_up else recipe.to_dict(),
        "benchmark": settings.benchmark,
        "sampler": settings.sampler,
        "pruner": settings.pruner,
        "backend": settings.backend,
    }


_MUST_MATCH = ("space", "max_params", "objectives", "dataset", "benchmark")


def prepare_study(
    settings: SearchSettings,
    *,
    fresh: bool = False,
    on_prescreen: Callable[[Prescreening], None] | None = None,
) -> tuple[optuna.Study, str]:
    """Creates the study, or loads it to resume after checking the settings match.

    With ``--prescreen`` it also scores the pool, once per study (``_prescreen.py``);
    ``on_prescreen`` follows the scoring.

    Raises:
        ValueError: when the space cannot fit the budget, or a study of the same name was made
            with other settings.
    """
    space = get_space(settings.space)
    shape = data_shape(settings)
    ensure_feasible(space, settings.budget, shape)
    name = settings.study or default_study_name(settings)
    storage = open_storage(settings.storage, heartbeat_seconds=settings.heartbeat_seconds)
    if fresh:
        with contextlib.suppress(KeyError):  # nothing to delete
            optuna.delete_study(study_name=name, storage=storage)
    sampler = make_sampler(settings.sampler, settings.seed)
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, directions=settings.directions, sampler=sampler
        )
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        created = False
    _settle_attrs(study, _study_attrs(settings, space), wait=not created)
    _enqueue_baselines(study, settings.baselines)
    if _COMPLETE_MARK not in study.user_attrs:  # last: a loader waits for it (_settle_attrs)
        study.set_user_attr(_COMPLETE_MARK, archbench.__version__)
    ensure_prescreened(study, settings, space, shape, on_prescreen)
    return study, name


# Written last, after the settings and the baselines: the study is set up.
_COMPLETE_MARK = "archbench_version"
_CREATOR_WAIT_SECONDS = 30.0


def _settle_attrs(study: optuna.Study, attrs: dict[str, Any], *, wait: bool) -> None:
    """Writes the study's settings but the mark, or checks ours against those stored.

    Optuna writes user attrs one key at a time, so a process that loads a study another has
    just created waits for the creator's mark before comparing, and then sees its baselines
    too. A creator that died midway leaves keys missing; they are filled in from ours once the
    wait is over.
    """
    existing = study.user_attrs
    deadline = time.monotonic() + (_CREATOR_WAIT_SECONDS if wait else 0.0)
    while _COMPLETE_MARK not in existing and time.monotonic() < deadline:
        time.sleep(0.1)
        existing = study.user_attrs
    for key in _MUST_MATCH:
        if key in existing and existing[key] != attrs[key]:
            raise ValueError(
                f"study {study.study_name!r} exists with {key}={existing[key]!r}, not "
                f"{attrs[key]!r}; pick another --study name or pass --fresh to start over"
            )
    for key, value in attrs.items():
        if key not in existing and key != _COMPLETE_MARK:
            study.set_user_attr(key, value)


def _enqueue_baselines(study: optuna.Study, baselines: tuple[str, ...]) -> None:
    present = {t.user_attrs.get(BASELINE) for t in study.get_trials(deepcopy=False)}
    for preset in baselines:
        get_preset(preset)  # fails early on a typo
        if preset not in present:
            study.enqueue_trial({}, user_attrs={BASELINE: preset})


class _Settled(RuntimeError):
    """A failure ``settle`` decided (no epoch reported): Optuna marks the trial FAIL."""


class Objective:
    """The Optuna objective of one worker: budget check, claim, training, and the trial record."""

    def __init__(self, settings: SearchSettings, runner: Runner, policy: StopPolicy) -> None:
        self.settings = settings
        self.runner = runner
        self.policy = policy
        self.space = get_space(settings.space)
        self.shape = data_shape(settings)
        # Set by a trial's claim when it found every slot taken, its own included: this
        # process then starts no other trial.
        self.last_slot_taken = False
        self.refused = False  # the last claim was refused

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        """Evaluates one trial; any failure is stored with its reason before Optuna sees it."""
        try:
            return self._evaluate(trial)
        except (optuna.TrialPruned, _Settled):
            raise
        except Exception as exc:
            settled = settle(Ending(failed=describe_failure(exc)))
            write_status(trial, settled.status, settled.reason)
            raise

    def _evaluate(self, trial: optuna.Trial) -> float | list[float]:
        own(trial)
        if self.settings.enqueued_only and POOL_INDEX not in trial.user_attrs:
            trial.study.stop()  # every enqueued config was taken: propose none
            return self._end(trial, Ending(refused=NOTHING_ENQUEUED))
        baseline = trial.user_attrs.get(BASELINE)
        if baseline:
            sampled = get_preset(baseline).with_data(
                num_classes=self.shape.num_classes,
                in_channels=self.shape.in_channels,
                input_size=self.shape.input_size,
            )
        else:
            sampled = self.space.to_config(suggest(trial, self.space), self.shape)
        decision = decide(sampled, self.settings.budget)
        write_decision(
            trial,
            config=decision.config.to_dict(),
            n_params=decision.n_params,
            sampled_config=decision.sampled_config.to_dict(),
        )
        if decision.rejected:
            return self._end(
                trial, Ending(decision.constraints, over_budget=decision.reason or "rejected")
            )
        self.policy.accepted()
        taken = claim(trial.study, trial)
        self.last_slot_taken = self.policy.quota_full(taken)
        if not self.policy.admits(taken):
            self.refused = True
            return self._end(trial, Ending(decision.constraints, refused=QUOTA_REACHED))
        pruner_said_stop: list[bool] = []
        try:
            outcome = self.runner.run(
                decision.config, self._reporter(trial), self._should_stop(trial, pruner_said_stop)
            )
        except LatencyRejection as exc:
            write_outcome(trial, metrics=[], val_accuracy=None, profile=exc.profile, placement=None)
            self.last_slot_taken = False  # its slot is free again
            return self._end(trial, Ending(decision.constraints, profile=exc.profile))
        write_outcome(
            trial,
            metrics=outcome.metrics,
            val_accuracy=outcome.val_accuracy,
            profile=outcome.profile,
            placement=Placement(host_name()),
            epochs_trained=outcome.epochs_trained,
            benchmark=outcome.benchmark,
        )
        stopped = outcome.stopped_early and pruner_said_stop
        ending = Ending(
            decision.constraints,
            epochs=outcome.epochs_trained,
            stopped_by=f"the {self.settings.pruner} pruner" if stopped else None,
            profile=outcome.profile,
        )
        values = self._values(decision, outcome.val_accuracy, outcome.profile)
        return self._end(trial, ending, values)

    def _end(
        self,
        trial: optuna.Trial,
        ending: Ending,
        values: float | list[float] | None = None,
    ) -> float | list[float]:
        """Writes the settled status (``_settle.py``) and ends the trial as Optuna needs it: the
        values of a trained trial, PRUNED for the rest (COMPLETE at the worst values for the
        samplers that ignore pruned trials), FAIL for a failure."""
        settled = settle(ending, max_latency_ms=self.settings.budget.max_latency_ms)
        for key, value in settled.constraints.items():
            trial.set_constraint(key, value)
        write_status(trial, settled.status, settled.reason)
        if settled.status != FAILED:
            settled.tell(self.policy)  # a failure is told after the trial (``run_worker``)
        if settled.status == TRAINED and values is not None:
            return values
        if settled.status == PRUNED:
            raise optuna.TrialPruned()
        if settled.status == FAILED:
            raise _Settled(settled.reason)
        if learns_only_from_complete(self.settings.sampler):
            worst = [WORST_VALUES[name] for name in self.settings.objectives]
            return worst[0] if len(worst) == 1 else worst
        raise optuna.TrialPruned(settled.reason)

    def _values(
        self, decision: Decision, accuracy: float, profile: dict[str, Any] | None
    ) -> float | list[float]:
        values = [accuracy]
        for name in self.settings.objectives[1:]:
            if name == "params":
                values.append(float(decision.n_params))
            elif name == "latency" and decision.predicted_latency_ms is not None:
                values.append(decision.predicted_latency_ms)  # predicted on --latency-on
            elif name == "latency":
                values.append(float((profile or {}).get("latency_ms_median") or WORST_VALUES[name]))
            else:
                values.append(float((profile or {}).get("infer_images_per_second") or 0.0))
        return values[0] if len(values) == 1 else values

    def _reporter(self, trial: optuna.Trial) -> Callable[[int, dict[str, float]], None]:
        single = len(self.settings.objectives) == 1  # Optuna cannot prune multi-objective trials

        def report(epoch: int, metrics: dict[str, float]) -> None:
            if single:
                trial.report(float(metrics["val_accuracy"]), epoch)

        return report

    def _should_stop(self, trial: optuna.Trial, said_stop: list[bool]) -> Callable[[], bool]:
        """The pruner's verdict, remembered so that a stop by the recipe's own early-stopping
        patience is stored as trained, not as pruned."""

        def should_stop() -> bool:
            if len(self.settings.objectives) > 1 or not trial.should_prune():
                return False
            said_stop.append(True)
            return True

        return should_stop


def run_worker(
    settings: SearchSettings,
    study_name: str,
    *,
    runner: Runner | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> None:
    """Runs trials in this process until the study holds ``settings.n_trials`` trained trials.

    Other processes may run trials of the same study at the same time, on this machine or
    others: every accepted config claims its slot through the storage before it trains
    (``_ledger.py``), and the process stops after the trial whose claim took the last slot. At
    start and at each claim, RUNNING trials of dead local processes are failed and their
    configs retried. A process whose claim finds the slots taken records a ``quota reached``
    rejection, reads the study again, and stops unless a slot is free.

    Raises:
        SearchAborted: after too many rejections in a row, or too many failures.
    """
    storage = open_storage(settings.storage, heartbeat_seconds=settings.heartbeat_seconds)
    study = optuna.load_study(
        study_name=study_name,
        storage=storage,
        sampler=make_sampler(settings.sampler, settings.seed),
        pruner=make_pruner(settings.pruner, len(settings.objectives)),
    )
    policy = StopPolicy.of(settings)
    if policy.quota_full(sweep_and_count(study)):
        return
    runner = runner or TrialRunner(settings, make_evaluator(settings))
    objective = Objective(settings, runner, policy)

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial_status(trial) == FAILED:
            policy.failed(trial.user_attrs.get(REASON))
            objective.last_slot_taken = False  # its slot is free again
        if objective.refused:  # read again, now that the refused claim holds no slot
            objective.refused = False
            objective.last_slot_taken = policy.quota_full(sweep_and_count(study))
        if on_trial is not None:
            on_trial(study, trial)
        if policy.problem is not None or objective.last_slot_taken:
            study.stop()

    study.optimize(objective, catch=(Exception,), callbacks=[after_trial])
    if policy.problem is not None:
        raise SearchAborted(policy.problem)


def _threads_per_worker(workers: int) -> str | None:
    """Torch's threads in each of ``workers`` processes that share this machine's cores.

    A spawned worker otherwise starts a thread per core, and N workers run N times as many
    threads as there are cores. Ray splits the cores per trial the same way. An
    ``OMP_NUM_THREADS`` the user has set is kept (None).
    """
    if "OMP_NUM_THREADS" in os.environ:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return str(max(1, (cores or 1) // workers))


def _worker_main(settings: SearchSettings, study_name: str, errors: Any, verbosity: int) -> None:
    optuna.logging.set_verbosity(verbosity)  # a spawned process starts at Optuna's default
    try:
        run_worker(settings, study_name)
    except SearchAborted as exc:
        errors.put(str(exc))


def run_search(
    settings: SearchSettings,
    *,
    fresh: bool = False,
    watch: Callable[[optuna.Study], None] | None = None,
    runner: Runner | None = None,
    on_prescreen: Callable[[Prescreening], None] | None = None,
) -> SearchSummary:
    """Runs (or resumes) a search with Optuna until the study holds ``settings.n_trials``.

    Args:
        watch: called once with the prepared study (the progress poller reads it).
        runner: trains the accepted configs (default: a ``TrialRunner``); one worker only.
        on_prescreen: follows the ``--prescreen`` scoring, before the first trial.
    """
    start = time.perf_counter()
    gpus = worker_devices(settings) if settings.workers > 1 else []
    study, name = prepare_study(settings, fresh=fresh, on_prescreen=on_prescreen)
    enqueue_top(study, settings, stored_pool(study))
    if watch is not None:
        watch(study)
    if settings.workers == 1:
        run_worker(settings, name, runner=runner)
    else:
        context = multiprocessing.get_context("spawn")
        errors = context.Queue()
        processes = []
        for index, gpu in enumerate(gpus):
            seed = None if settings.seed is None else settings.seed + index
            worker_settings = gpu.apply(replace(settings, seed=seed))
            process = context.Process(
                target=_worker_main,
                args=(worker_settings, name, errors, optuna.logging.get_verbosity()),
            )
            # The child starts with its own card visible, before anything in it can touch CUDA,
            # and its share of the cores, before torch sizes its thread pool.
            with environment(
                CUDA_VISIBLE_DEVICES=gpu.visible_devices,
                OMP_NUM_THREADS=_threads_per_worker(settings.workers),
            ):
                process.start()
            processes.append(process)
        for process in processes:
            process.join()
        if not errors.empty():
            raise SearchAborted(errors.get())
        # A worker killed after its siblings stopped leaves its slot to this process.
        run_worker(settings, name, runner=runner)
    return summarize(study, name, settings, time.perf_counter() - start)


def summarize(
    study: optuna.Study, name: str, settings: SearchSettings, seconds: float, top: int = 5
) -> SearchSummary:
    trials = study.get_trials(deepcopy=False)
    statuses = [trial_status(t) for t in trials]
    trained = [t for t in trials if trial_status(t) == TRAINED and t.state == TrialState.COMPLETE]
    trained.sort(key=lambda t: -(t.values[0] if t.values else 0.0))
    best = [
        {
            "trial": t.number,
            "val_accuracy": t.values[0],
            "n_params": t.user_attrs.get(N_PARAMS),
            "epochs": t.user_attrs.get(EPOCHS_TRAINED),
            "baseline": t.user_attrs.get(BASELINE),
        }
        for t in trained[:top]
    ]
    pool = stored_pool(study)
    return SearchSummary(
        study=name,
        storage=settings.storage or "sqlite:///results/archbench.db",
        trained=statuses.count(TRAINED) + statuses.count(PRUNED),
        rejected=statuses.count(REJECTED),
        pruned=statuses.count(PRUNED),
        failed=statuses.count(FAILED),
        seconds=seconds,
        best=best,
        prescreen=(
            {"score": pool.score, "samples": len(pool.params), "seconds": pool.seconds}
            if pool is not None
            else None
        ),
    )
