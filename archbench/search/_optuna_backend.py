"""The Optuna backend: the objective, worker processes, resume.

The flow of one trial (docs/DESIGN.md): suggest params, decode, count, reject over-budget configs
before any build, profile, train with per-epoch reports for pruning, store everything as trial
user attrs. ``--trials N`` counts trials that trained; rejections are recorded and bounded.
Running the same command again resumes the study until N trials have trained in total.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from archbench.budget import Decision, decide
from archbench.evaluators import Evaluator, LatencyRejection, TrialRunner, describe_failure
from archbench.gpus import WorkerDevice, environment, worker_devices
from archbench.models import get_preset
from archbench.search._context import TrialContext
from archbench.search._policy import StopPolicy
from archbench.search._samplers import WORST_VALUES, rejected_values, suggest
from archbench.search._settings import SearchSettings
from archbench.search._study import SearchAborted, load_study
from archbench.store import (
    BASELINE,
    FAILED,
    NOTHING_ENQUEUED,
    POOL_INDEX,
    PRUNED,
    QUOTA_REACHED,
    REASON,
    TRAINED,
    Ending,
    Placement,
    claim,
    decision_attrs,
    host_name,
    owning_asks,
    result_attrs,
    settle,
    status_attrs,
    sweep_and_count,
    trial_status,
    write,
)


class _Settled(RuntimeError):
    """A failure ``settle`` decided (no epoch reported): Optuna marks the trial FAIL."""


class Objective:
    """The Optuna objective of one worker: budget check, claim, training, and the trial record."""

    def __init__(self, context: TrialContext, runner: TrialRunner, policy: StopPolicy) -> None:
        self.settings = context.settings
        self.runner = runner
        self.policy = policy
        self.space = context.space
        self.shape = context.shape
        self.pool_only = context.pool_only
        # Set by a trial's claim when it found every slot taken, its own included: this
        # process then starts no other trial.
        self.last_slot_taken = False
        self.refused = False  # the last claim was refused

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        """Evaluates one trial; a failure is stored with its reason before Optuna sees it."""
        try:
            return self._evaluate(trial)
        except (optuna.TrialPruned, _Settled):
            raise
        except Exception as exc:
            settled = settle(Ending(failed=describe_failure(exc)))
            write(trial, status_attrs(settled.status, settled.reason))
            raise

    def _evaluate(self, trial: optuna.Trial) -> float | list[float]:
        if self.pool_only and POOL_INDEX not in trial.user_attrs:
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
        decided = decision_attrs(decision)
        if decision.rejected:
            ending = Ending(decision.constraints, over_budget=decision.reason or "rejected")
            return self._end(trial, ending, attrs=decided)
        self.policy.accepted()
        taken = claim(trial.study, trial, decided)
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
            self.last_slot_taken = False  # its slot is free again
            measured = result_attrs(
                metrics=[], val_accuracy=None, profile=exc.profile, placement=None
            )
            ending = Ending(decision.constraints, profile=exc.profile)
            return self._end(trial, ending, attrs=measured)
        stopped = outcome.stopped_early and pruner_said_stop
        ending = Ending(
            decision.constraints,
            epochs=outcome.epochs_trained,
            stopped_by=f"the {self.settings.pruner} pruner" if stopped else None,
            profile=outcome.profile,
        )
        result = result_attrs(
            metrics=outcome.metrics,
            val_accuracy=outcome.val_accuracy,
            profile=outcome.profile,
            placement=Placement(host_name()),
            epochs_trained=outcome.epochs_trained,
            benchmark=outcome.benchmark,
        )
        values = self._values(decision, outcome.val_accuracy, outcome.profile)
        return self._end(trial, ending, values, attrs=result)

    def _end(
        self,
        trial: optuna.Trial,
        ending: Ending,
        values: float | list[float] | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> float | list[float]:
        """Writes ``attrs`` with the settled status and constraints (``store.settle``), in one
        write, and ends the trial as Optuna needs it: the values of a trained trial, PRUNED for
        the rest (COMPLETE at the worst values for the samplers that ignore pruned trials),
        FAIL for a failure."""
        settled = settle(ending, max_latency_ms=self.settings.budget.max_latency_ms)
        record = {**(attrs or {}), **status_attrs(settled.status, settled.reason)}
        write(trial, record, settled.constraints)
        if settled.status != FAILED:
            self.policy.tell(settled)  # a failure is told after the trial (``run_worker``)
        if settled.status == TRAINED and values is not None:
            return values
        if settled.status == PRUNED:
            raise optuna.TrialPruned()
        if settled.status == FAILED:
            raise _Settled(settled.reason)
        worst = rejected_values(self.settings.sampler, self.settings.objectives)
        if worst is None:
            raise optuna.TrialPruned(settled.reason)
        return worst[0] if len(worst) == 1 else worst

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
    context: TrialContext,
    study: optuna.Study,
    *,
    evaluator: Evaluator | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    gpu: WorkerDevice = WorkerDevice(),
) -> None:
    """Runs trials of the prepared ``study`` in this process, on its card ``gpu``, until it
    holds ``--trials`` trained trials.

    Other processes, here or on other machines, may run trials of the study at the same time:
    the process stops after the trial whose claim took the last slot (``store.claim``), or
    when a refused claim reads the slots full.

    Raises:
        SearchAborted: after too many rejections in a row, or too many failures.
    """
    settings = context.settings
    policy = StopPolicy.of(settings)
    if policy.quota_full(sweep_and_count(study)):
        return
    if gpu.device is not None:
        context = context.on_device(gpu.device, gpu.shared)
    evaluator = evaluator or context.evaluator()
    objective = Objective(context, TrialRunner(evaluator, settings.epoch_timeout_seconds), policy)

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

    owning_asks(study).optimize(objective, catch=(Exception,), callbacks=[after_trial])
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


def _worker_main(
    context: TrialContext, study_name: str, gpu: WorkerDevice, errors: Any, verbosity: int
) -> None:
    optuna.logging.set_verbosity(verbosity)  # a spawned process starts at Optuna's default
    try:
        run_worker(context, load_study(context.settings, study_name), gpu=gpu)
    except SearchAborted as exc:
        errors.put(str(exc))


class OptunaBackend:
    """Runs the trials of a prepared study in this process, or in ``--workers`` spawned
    processes (a card each where there are enough), until it holds ``--trials`` trained trials.

    ``evaluator`` evaluates the accepted configs instead of the search's own (one worker only;
    for tests and benchmarks).
    """

    def __init__(self, settings: SearchSettings, evaluator: Evaluator | None = None) -> None:
        self.evaluator = evaluator
        # Read before the study exists, so that a bad --device fails first.
        self.gpus = (
            worker_devices(settings.device, settings.workers) if settings.workers > 1 else []
        )

    def optimize(self, study: optuna.Study, context: TrialContext) -> None:
        settings = context.settings
        if settings.workers > 1:
            spawn = multiprocessing.get_context("spawn")
            errors = spawn.Queue()
            processes = []
            for index, gpu in enumerate(self.gpus):
                seed = None if settings.seed is None else settings.seed + index
                process = spawn.Process(
                    target=_worker_main,
                    args=(
                        replace(context, settings=replace(settings, seed=seed)),
                        study.study_name, gpu, errors,
                        optuna.logging.get_verbosity(),
                    ),
                )  # fmt: skip
                # The child starts with its own card visible, before anything in it can touch
                # CUDA, and its share of the cores, before torch sizes its thread pool.
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
        run_worker(context, study, evaluator=self.evaluator)
