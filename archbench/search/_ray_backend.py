"""Running a search on Ray Tune: the same space, budget check and trial records as with Optuna.

For searches that outgrow one machine: ASHA (Li et al., MLSys 2020) stops weak trials at epoch
rungs, and Ray places trials on a cluster's CPUs and (fractional) GPUs. In the driver,
``BudgetedSearcher`` proposes within the budget on archbench's own study and stops at
``--trials`` trained; ``RecordTrials`` and its ``Recorder`` write each Ray trial's record when it
ends. A rerun after the driver was killed restores the Ray experiment (``Tuner.restore``).
Only this module and ``archbench/ray_runtime.py`` import ray (docs/DESIGN.md, decision 1).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
import socket
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import ray
from optuna.distributions import distribution_to_json, json_to_distribution
from optuna.trial import TrialState
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import Searcher

from archbench.budget import decide
from archbench.evaluators import Evaluator, LatencyRejection, describe_failure
from archbench.gpus import (
    VISIBLE_DEVICES,
    actor_device,
    environment,
    local_gpus_needed,
    ray_trial_device,
    reuse_actors,
    shares_ray_gpu,
)
from archbench.models import config_from_dict
from archbench.ray_runtime import ray_runtime
from archbench.search._context import TrialContext
from archbench.search._policy import StopPolicy
from archbench.search._samplers import rejected_values, suggest
from archbench.search._settings import RaySettings, SearchSettings
from archbench.search._study import SearchAborted, load_study
from archbench.store import (
    CONFIG,
    FAILED,
    NOTHING_ENQUEUED,
    POOL_INDEX,
    QUOTA_REACHED,
    RAY_TRIAL_ID,
    REJECTED,
    TRAINED,
    Ending,
    Placement,
    Settlement,
    ask,
    claim,
    decision_attrs,
    finish_in_place,
    normalize_storage_url,
    reown,
    report_epoch,
    result_attrs,
    settle,
    status_attrs,
    sweep_and_count,
    write,
)

METRIC = "val_accuracy"
# Under this key, a Ray trial's config holds the driver's budget decision, and each of its
# results the epoch metrics, the profile, or why the trial ended.
KEY = "archbench"
RUNS_ATTR = "ray_runs"  # study user attr: the Ray experiments of the study and their state


def check_settings(context: TrialContext) -> RaySettings:
    """The Ray settings of the search, after checking that it can run on Ray.

    Raises:
        ValueError: for options the Ray backend does not support, saying what to use instead.
    """
    settings = context.settings
    ray_settings = settings.ray or RaySettings()
    if settings.objectives != ("accuracy",):
        raise ValueError(
            "objective: --backend ray optimizes accuracy only (ASHA stops trials on one metric); "
            "use --backend optuna for multi-objective searches"
        )
    if settings.workers != 1:
        raise ValueError(
            "workers: Ray runs as many trials at once as --cpus-per-trial and --gpus-per-trial "
            "allow; drop --workers"
        )
    if settings.baselines:
        raise ValueError("baseline: not supported by --backend ray; use --backend optuna")
    if settings.benchmark is not None:
        raise ValueError(
            "benchmark: a table lookup takes milliseconds and needs no Ray; use --backend optuna"
        )
    ray_trial_device(settings.device, ray_settings.gpus_per_trial)  # refuses CUDA without GPUs
    epochs = context.recipe.epochs
    if ray_settings.scheduler == "asha" and ray_settings.grace_period > epochs:
        raise ValueError(
            f"grace_period: {ray_settings.grace_period} is more than the {epochs} epochs of a trial"
        )
    return ray_settings


def with_absolute_paths(settings: SearchSettings) -> SearchSettings:
    """Settings whose data folder and image-folder data set still resolve inside a Ray worker.

    Ray runs each trial in its own working directory (and, on a cluster, on another machine), so
    a relative path typed by the user must become absolute before it travels. The study keeps
    the path as typed. The recipe is resolved already (``TrialContext.recipe``).
    """
    from archbench.data import is_image_folder

    def absolute(path: str) -> str:
        return str(Path(path).expanduser().resolve())

    return replace(
        settings,
        data_dir=absolute(settings.data_dir) if settings.data_dir else None,
        dataset=absolute(settings.dataset)
        if is_image_folder(settings.dataset)
        else settings.dataset,
    )


def experiment_root(settings: SearchSettings, ray_settings: RaySettings, study_name: str) -> str:
    """Where Ray keeps the experiments of a study: ``--ray-storage``, else next to the database."""
    configured = ray_settings.storage_path
    if configured:
        root = configured if "://" in configured else str(Path(configured).resolve())
    else:
        url = normalize_storage_url(settings.storage)
        if url.startswith("sqlite:///"):
            folder = Path(url.removeprefix("sqlite:///")).parent
        elif "://" not in url:  # a journal file
            folder = Path(url).parent
        else:  # a database server: no folder of its own
            folder = Path("results")
        root = str((folder / "ray").resolve())
    return f"{root.rstrip('/')}/{study_name}"


class Recorder:
    """The driver's ledger client: writes each trial's record into the stored trial its proposal
    was asked on, once per Ray trial id.

    The Ray trial id (a user attr) is what makes a resumed experiment safe: a trial that finished
    after Ray's last checkpoint runs again on restore, and its second record is skipped.
    """

    def __init__(self, context: TrialContext, study: optuna.Study) -> None:
        self.context = context
        self.settings = context.settings
        self.study_name = study.study_name
        self.epochs = context.recipe.epochs
        self._study: optuna.Study | None = study
        self._recorded: set[str] | None = None
        self.policy = StopPolicy.of(self.settings)  # told what ``settle`` says of each trial

    def __getstate__(self) -> dict[str, Any]:
        """Ray keeps the searcher, and so this recorder, with the experiment: not the study."""
        return {**self.__dict__, "_study": None, "_recorded": None}

    @property
    def study(self) -> optuna.Study:
        """The prepared study, with the search's sampler: the searcher asks on it, as the Optuna
        backend's workers do. A restored experiment loads it again, as a worker does."""
        if self._study is None:
            self._study = load_study(self.settings, self.study_name)
        return self._study

    def recorded_ids(self) -> set[str]:
        """Ray trial ids already in the storage (read once, then kept up to date)."""
        if self._recorded is None:
            self._recorded = {
                str(t.user_attrs[RAY_TRIAL_ID])
                for t in self.study.get_trials(deepcopy=False)
                if RAY_TRIAL_ID in t.user_attrs
            }
        return self._recorded

    def add(
        self,
        ray_trial_id: str,
        proposal: dict[str, Any],
        settled: Settlement,
        *,
        history: list[dict[str, float]] | None = None,
        profile: dict[str, Any] | None = None,
        placement: Placement | None = None,
        seconds: float | None = None,
    ) -> None:
        """Writes one trial's record, with the user attrs of the Optuna backend
        (docs/CONTRACTS.md), its status and constraints as ``settle`` decided them, into the
        trial its proposal was asked on (as a trial of its own when a sweep failed that one), and
        tells the stop policy.
        """
        if ray_trial_id in self.recorded_ids():
            return
        history = history or []
        status = settled.status
        best = max((m[METRIC] for m in history), default=None)
        attrs = {
            **proposal["decided"],
            **result_attrs(
                metrics=history, val_accuracy=best, profile=profile, placement=placement
            ),
            **status_attrs(status, settled.reason),
            RAY_TRIAL_ID: ray_trial_id,
        }
        state, value = self._state(status, best)
        trial = optuna.trial.create_trial(
            state=state,
            value=value,
            params=proposal["params"],
            distributions={
                name: json_to_distribution(text) for name, text in proposal["distributions"].items()
            },
            user_attrs=attrs,
            intermediate_values={int(m["epoch"]): m[METRIC] for m in history},
            constraints=settled.constraints,
        )
        if seconds is not None and trial.datetime_complete is not None:
            trial.datetime_start = trial.datetime_complete - datetime.timedelta(seconds=seconds)
        if not finish_in_place(self.study, proposal["trial"], trial):
            self.study.add_trial(trial)
        self.recorded_ids().add(ray_trial_id)
        self.policy.tell(settled)

    def end_unscheduled(
        self, trial: optuna.Trial, proposal: dict[str, Any], settled: Settlement
    ) -> None:
        """Records a proposal that never became a Ray trial (over the budget, or turned away) in
        its stored trial, as the Optuna objective records it: its attrs in one write, then its
        end."""
        write(
            trial,
            {**proposal["decided"], **status_attrs(settled.status, settled.reason)},
            settled.constraints,
        )
        state, value = self._state(settled.status, None)
        trial.study.tell(trial, value, state=state)
        self.policy.tell(settled)

    def _state(self, status: str, best: float | None) -> tuple[TrialState, float | None]:
        """The state and value a trial of ``status`` ends in, as on the Optuna backend: a
        rejection is PRUNED, or COMPLETE at the worst value for the samplers that ignore pruned
        trials (``rejected_values``)."""
        if status == TRAINED:
            return TrialState.COMPLETE, best
        if status == FAILED:
            return TrialState.FAIL, None
        worst = rejected_values(self.settings.sampler, self.settings.objectives)
        if status != REJECTED or worst is None:
            return TrialState.PRUNED, None
        return TrialState.COMPLETE, worst[0]


class BudgetedSearcher(Searcher):
    """Proposes configs within the budget, asked on archbench's study, until ``--trials``
    have trained.

    Each proposal is the ledger's ``ask`` on the stored study, so the sampler learns from the
    stored trials and enqueued ones come first, as with Optuna. An over-budget proposal is
    recorded as rejected and never reaches Ray; an accepted one claims its slot as an Optuna
    trial does, so drivers that share the study never train more than N. The slots are counted
    from the storage, so a restored experiment counts right even when Ray's snapshot of this
    searcher is stale. With ``pool_only`` it proposes only the study's enqueued trials.
    """

    def __init__(self, recorder: Recorder, run: str) -> None:
        super().__init__(metric=METRIC, mode="max")
        self.recorder = recorder
        self.run = run
        self.space = recorder.context.space
        self.shape = recorder.context.shape
        self.live: dict[str, int] = {}  # Ray trials in flight -> their stored trials

    @property
    def policy(self) -> StopPolicy:
        return self.recorder.policy

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        return True  # the metric is set above, and the space is archbench's own

    def suggest(self, trial_id: str) -> dict | str | None:  # type: ignore[override]
        """A config within the budget, None to wait for trials in flight, or FINISHED."""
        study = self.recorder.study
        pool_only = self.recorder.context.pool_only
        while self.policy.problem is None and not self.policy.quota_full(sweep_and_count(study)):
            if pool_only and not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                break
            trial = ask(study)  # owned by this driver (the ledger's ask)
            proposal = self._propose(trial)
            if pool_only and not proposal["pooled"]:
                self.recorder.end_unscheduled(
                    trial, proposal, settle(Ending(refused=NOTHING_ENQUEUED))
                )
                break  # another driver took the last enqueued trial
            ending = Ending(proposal["constraints"], over_budget=proposal["reason"])
            if proposal["reason"] is None:
                if self.policy.admits(claim(study, trial, proposal["decided"])):
                    self.live[trial_id] = proposal["trial"]
                    self.policy.accepted()
                    return {KEY: proposal}
                ending = Ending(proposal["constraints"], refused=QUOTA_REACHED)  # another driver
            self.recorder.end_unscheduled(trial, proposal, settle(ending))
        if self.live:
            return None  # a trial in flight may still fail and need a replacement
        if self.policy.problem is None:
            set_run_state(study, self.run, "finished")
        else:
            set_run_state(study, self.run, "aborted", self.policy.problem)
        return Searcher.FINISHED

    def _propose(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggests and decodes the config of ``trial``, and decides the budget: the proposal the
        trainable gets in its config (the effective config, without the space file) and the
        driver records the trial from."""
        sampled = self.space.to_config(suggest(trial, self.space), self.shape)
        decision = decide(sampled, self.recorder.settings.budget)
        return {
            "trial": trial.number,
            "pooled": POOL_INDEX in trial.user_attrs,  # a config of ``archbench fidelity``'s pool
            "decided": decision_attrs(decision),
            "constraints": decision.constraints,
            "reason": decision.reason,
            "params": dict(trial.params),
            "distributions": {
                name: distribution_to_json(dist) for name, dist in trial.distributions.items()
            },
        }

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Writes an epoch's accuracy into the stored trial as it comes (the live view)."""
        if trial_id in self.live and f"{KEY}/metrics/{METRIC}" in result:
            epoch, accuracy = result[f"{KEY}/metrics/epoch"], result[f"{KEY}/metrics/{METRIC}"]
            report_epoch(self.recorder.study, self.live[trial_id], int(epoch), float(accuracy))

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        """``RecordTrials`` records the trial and tells the stop policy right after: Ray calls
        the searcher, then the callbacks, before it asks for another config."""
        self.live.pop(trial_id, None)

    def get_state(self) -> dict[str, Any]:
        return {"live": self.live, "policy": asdict(self.policy)}

    def set_state(self, state: dict[str, Any]) -> None:
        self.live = state["live"]
        self.recorder.policy = StopPolicy(**state["policy"])

    def save(self, checkpoint_path: str) -> None:
        """What Ray keeps with the experiment for ``Tuner.restore``."""
        Path(checkpoint_path).write_text(json.dumps(self.get_state()))

    def restore(self, checkpoint_path: str) -> None:
        self.set_state(json.loads(Path(checkpoint_path).read_text()))


class RecordTrials(tune.Callback):
    """Records each Ray trial into archbench's study when it ends, in the driver, with the
    status ``settle`` gives it.

    A restored experiment first owns the stored trials of its unfinished Ray trials
    (``store.reown``): they train again in place, where a sweep would fail them and retry
    their configs beside them.
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._seen: dict[str, _Reports] = {}
        self._restored_owned = False

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        """Before Ray first asks the searcher, whose sweep would fail the dead driver's trials."""
        if self._restored_owned:
            return
        self._restored_owned = True
        unfinished = [t for t in trials if t.status not in (t.TERMINATED, t.ERROR)]
        reown(self.recorder.study, [t.config[KEY]["trial"] for t in unfinished])

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        payload = result.get(KEY, {})
        seen = self._seen.setdefault(trial.trial_id, _Reports())
        if "metrics" in payload:
            seen.history.append(payload["metrics"])
        if "profile" in payload:
            seen.profile = json.loads(payload["profile"])
        if "placement" in payload:
            seen.placement = Placement(**payload["placement"])
        seen.last = result

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A retried trial starts from its first epoch again: forget the failed attempt."""
        self._seen.pop(trial.trial_id, None)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        seen = self._seen.pop(trial.trial_id, _Reports())
        epochs = len(seen.history)
        stopped = seen.last.get("done") and 0 < epochs < self.recorder.epochs  # FIFO never stops
        ending = Ending(
            trial.config[KEY]["constraints"],
            epochs=epochs,
            stopped_by="ASHA" if stopped else None,
            profile=seen.profile,
            failed=seen.last.get(KEY, {}).get("failed"),
        )
        self._add(trial, seen, ending)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        reason = (
            f"Ray trial errored {trial.num_failures} time(s) (worker process died or was "
            f"lost); see {trial.path}/error.txt"
        )
        seen = self._seen.pop(trial.trial_id, _Reports())
        ending = Ending(trial.config[KEY]["constraints"], profile=seen.profile, failed=reason)
        self._add(trial, seen, ending)

    def _add(self, trial: Any, seen: _Reports, ending: Ending) -> None:
        limit = self.recorder.settings.budget.max_latency_ms
        self.recorder.add(
            trial.trial_id,
            trial.config[KEY],
            settle(ending, max_latency_ms=limit),
            history=seen.history,
            profile=seen.profile,
            placement=seen.placement,
            seconds=seen.last.get("time_total_s"),
        )


@dataclass
class _Reports:
    """What the reports of one Ray trial carried so far."""

    history: list[dict[str, float]] = field(default_factory=list)
    profile: dict[str, Any] | None = None
    placement: Placement | None = None
    last: dict[str, Any] = field(default_factory=dict)


@functools.lru_cache(maxsize=1)
def _evaluator(context: TrialContext) -> Evaluator:
    """The search's evaluator, made once per worker process (Ray reuses actors on CPUs), so
    that proxy training loads its data once."""
    return context.evaluator()


def trainable(config: dict[str, Any], context: TrialContext) -> None:
    """The Ray trainable: the search's evaluator (``TrialContext.evaluator``), one report per epoch.

    What the driver records travels in the reports, since ASHA may stop the trial at any of
    them. Named failures (non-finite loss, out of memory) are reported, not raised, so that Ray
    does not retry a config that would fail the same way; their NaN metric is ignored by ASHA.
    """
    context = _on_this_actor(context)
    node = ray.get_runtime_context().get_node_id()
    extra: dict[str, Any] = {"placement": asdict(Placement(socket.gethostname(), node))}

    def on_profile(profile: dict[str, Any]) -> None:
        extra["profile"] = json.dumps(profile)

    def report(epoch: int, metrics: dict[str, float]) -> None:
        tune.report({**metrics, KEY: {"metrics": dict(metrics), **extra}})
        extra.clear()

    try:
        _evaluator(context)(
            config_from_dict(config[KEY]["decided"][CONFIG]),
            report,
            lambda: False,  # ASHA stops a trial by not asking for its next epoch
            on_profile,
        )
    except LatencyRejection as exc:
        tune.report({METRIC: math.nan, KEY: {"rejected": str(exc), **extra}})
    except Exception as exc:
        tune.report({METRIC: math.nan, KEY: {"failed": describe_failure(exc), **extra}})


def _on_this_actor(context: TrialContext) -> TrialContext:
    """The trial context of this actor: its device in the actor's numbering (``actor_device``).

    A CPU trial hides the GPUs: Ray 2.60 no longer blanks ``CUDA_VISIBLE_DEVICES`` for an
    actor that reserved none, and nothing may then touch a card no trial reserved.
    """
    if context.device == "cpu":
        os.environ[VISIBLE_DEVICES] = ""
        return context
    device = actor_device(
        context.device, [str(i) for i in ray.get_gpu_ids()], os.environ.get(VISIBLE_DEVICES)
    )
    return context.on_device(device, context.shared_device)


def _trial_dirname(trial: Any) -> str:
    """Short trial folders: Ray's default name lists every config value."""
    return f"trial_{trial.trial_id}"


def _new_tuner(
    context: TrialContext,
    ray_settings: RaySettings,
    study: optuna.Study,
    trainable: Any,
    root: str,
    run: str,
) -> tune.Tuner:
    recorder = Recorder(context, study)
    scheduler = (
        ASHAScheduler(
            max_t=recorder.epochs,
            grace_period=ray_settings.grace_period,
            reduction_factor=ray_settings.reduction_factor,
        )
        if ray_settings.scheduler == "asha"
        else FIFOScheduler()
    )
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode="max",
            search_alg=BudgetedSearcher(recorder, run),  # it shares the recorder with the callback
            scheduler=scheduler,
            num_samples=-1,  # the searcher decides when the experiment is done
            reuse_actors=reuse_actors(ray_settings.gpus_per_trial),
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=run,
            storage_path=root,
            failure_config=tune.FailureConfig(max_failures=ray_settings.max_failures),
            callbacks=[RecordTrials(recorder)],
            verbose=0,
        ),
    )


def ray_runs(study: optuna.Study) -> list[dict[str, Any]]:
    """The Ray experiments of ``study``: name, path, state (running/finished/aborted/lost)."""
    return [dict(run) for run in study.user_attrs.get(RUNS_ATTR, [])]


def _add_run(study: optuna.Study, run: str, path: str, target: int) -> None:
    runs = ray_runs(study)
    runs.append({"name": run, "path": path, "state": "running", "target": target})
    study.set_user_attr(RUNS_ATTR, runs)


def set_run_state(study: optuna.Study, run: str, state: str, reason: str | None = None) -> None:
    runs = ray_runs(study)
    for entry in runs:
        if entry["name"] == run:
            entry["state"] = state
            if reason is not None:
                entry["reason"] = reason
    study.set_user_attr(RUNS_ATTR, runs)


def _restore(path: str, trainable: Any) -> tune.Tuner | None:
    """The interrupted experiment at ``path``, or None when Ray never saved its state.

    Trials that were running start again. Trials that errored stay as they are
    (``resume_errored=False``): they are recorded as failed already, like failed Optuna trials.
    """
    if not tune.Tuner.can_restore(path):
        return None
    tuner = tune.Tuner.restore(path, trainable=trainable)
    try:
        tuner.get_results()  # Ray restarts an unsaved experiment with one trial: start anew
    except RuntimeError:
        return None
    return tuner


def _fit(tuner: tune.Tuner, study: optuna.Study, run: str) -> None:
    """Runs ``tuner`` and turns the run state the searcher stored into an outcome.

    Raises:
        SearchAborted: when the searcher gave up (too many rejections or failures).
        KeyboardInterrupt: when Ray ended the run on Ctrl+C (its experiment can be restored).
    """
    with environment(RAY_AIR_NEW_OUTPUT="0"), warnings.catch_warnings():
        # The legacy reporter is silent at verbose=0. NaN reports of failed trials make ASHA
        # warn about rungs without a number yet; it ignores them, and so can the user.
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        tuner.fit()
    entry = next(r for r in ray_runs(study) if r["name"] == run)
    if entry["state"] == "aborted":
        raise SearchAborted(entry.get("reason", "the Ray searcher gave up"))
    if entry["state"] == "running":
        raise KeyboardInterrupt


class RayBackend:
    """Runs the trials of a prepared study on Ray Tune until it holds ``--trials`` trained
    trials: an interrupted Ray experiment of the study is restored first, then a new one trains
    whatever is still missing.

    Raises:
        ValueError: for settings the Ray backend cannot run (when made), or an unreachable
            cluster.
        SearchAborted: after too many rejections in a row, or too many failures.
        KeyboardInterrupt: when the run was interrupted; rerun the command to resume it.
    """

    def __init__(self, context: TrialContext) -> None:
        self.ray_settings = check_settings(context)
        gpus = self.ray_settings.gpus_per_trial
        if self.ray_settings.address is None and gpus > 0:
            import torch

            local_gpus_needed(gpus, torch.cuda.device_count())
        self.device = ray_trial_device(context.device, gpus)  # cpu or cuda: Ray picks the card

    def optimize(self, study: optuna.Study, context: TrialContext) -> None:
        ray_settings = self.ray_settings
        settings = with_absolute_paths(context.settings)
        shared = shares_ray_gpu(self.device, ray_settings.gpus_per_trial)
        context = replace(context, settings=settings).on_device(self.device, shared)
        study.set_user_attr("pruner", ray_settings.scheduler)  # Ray's scheduler stops trials
        study.set_user_attr("ray", asdict(ray_settings))
        root = experiment_root(settings, ray_settings, study.study_name)
        resources = {"cpu": ray_settings.cpus_per_trial, "gpu": ray_settings.gpus_per_trial}
        with ray_runtime(ray_settings.address):
            wrapped = tune.with_resources(
                tune.with_parameters(trainable, context=context), resources
            )
            runs = ray_runs(study)
            if runs and runs[-1]["state"] == "running":
                last = runs[-1]
                restored = _restore(last["path"], wrapped)
                if restored is not None:
                    _fit(restored, study, last["name"])
                else:
                    set_run_state(study, last["name"], "lost")
            remaining = settings.n_trials - sweep_and_count(study)
            if remaining > 0:
                run = time.strftime("run-%Y%m%d-%H%M%S")
                _add_run(study, run, f"{root}/{run}", remaining)
                tuner = _new_tuner(context, ray_settings, study, wrapped, root, run)
                _fit(tuner, study, run)
