"""The Ray Tune backend: real searches on a real local Ray runtime (2 CPUs), kept few and short."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest

from archbench.search import SearchSettings, TrialContext
from archbench.search._settings import RaySettings
from archbench.store import (
    FAILED,
    PRUNED,
    REJECTED,
    RUNNING,
    TRAINED,
    counts_by_status,
    is_trained,
    open_storage,
    trial_status,
)
from tests.conftest import child_env, run_cli
from tests.search.conftest import TINY_BUDGET, tiny_search_args, tiny_settings


def settings_for(space: Path, storage: str, trials: int, **overrides: Any) -> SearchSettings:
    return tiny_settings(
        space, storage, trials, **{"backend": "ray", "ray": RaySettings(), **overrides}
    )


def load(storage: str) -> optuna.Study:
    return optuna.load_study(study_name="tiny", storage=open_storage(storage))


def test_without_ray_the_backend_exits_2_with_the_install_line(
    tiny_space: Path, tmp_path: Path
) -> None:
    args = tiny_search_args(tiny_space, f"sqlite:///{tmp_path}/s.db", 1, "--backend", "ray")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['ray'] = None; from archbench.cli import main; main()",
            *args,
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert 'pip install "archbench[ray]"' in result.stderr
    assert not (tmp_path / "s.db").exists(), "nothing may run without Ray"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"objectives": ("accuracy", "params")}, "objective"),
        ({"workers": 2}, "workers"),
        ({"device": "cuda"}, "device"),
        ({"ray": RaySettings(grace_period=2)}, "grace_period"),
    ],
)
def test_settings_ray_cannot_run_are_refused(
    overrides: dict, problem: str, tiny_space: Path, tmp_path: Path
) -> None:
    ray_search = pytest.importorskip("archbench.search._ray_backend")
    settings = settings_for(tiny_space, f"sqlite:///{tmp_path}/s.db", 1, **overrides)
    with pytest.raises(ValueError, match=f"^{problem}:"):
        ray_search.check_settings(TrialContext.of(settings))


@pytest.mark.parametrize("sampler", ["tpe", "random", "gp", "qmc", "rea"])
def test_ray_accepts_every_single_objective_sampler(
    sampler: str, tiny_space: Path, tmp_path: Path
) -> None:
    """The searcher asks on archbench's own study, with the study's sampler, as the Optuna
    backend's workers do: nothing restricts the sampler."""
    ray_search = pytest.importorskip("archbench.search._ray_backend")
    settings = settings_for(tiny_space, f"sqlite:///{tmp_path}/s.db", 1, sampler=sampler)
    assert ray_search.check_settings(TrialContext.of(settings)) == RaySettings()


@pytest.mark.ray
@pytest.mark.slow
def test_four_trials_train_and_over_budget_configs_never_reach_ray(
    ray_address: str, tiny_space: Path, tmp_path: Path
) -> None:
    from archbench.search import run
    from archbench.search._ray_backend import ray_runs

    storage = f"sqlite:///{tmp_path}/s.db"
    # GP ignores pruned trials: a rejection ends COMPLETE at the worst accuracy, as on Optuna.
    summary = run(settings_for(tiny_space, storage, 4, sampler="gp"))
    study = load(storage)
    counts = counts_by_status(study)
    assert counts[TRAINED] + counts[PRUNED] == 4 == summary.trained
    assert counts[REJECTED] >= 1, "the tiny budget should reject some proposals"
    assert study.user_attrs["backend"] == "ray"
    trained = [t for t in study.trials if trial_status(t) in (TRAINED, PRUNED)]
    for trial in trained:
        assert trial.user_attrs["n_params"] <= TINY_BUDGET
        assert trial.constraints["max_params"] <= 0
        assert len(trial.user_attrs["metrics"]) == trial.user_attrs["epochs_trained"] == 1
        assert trial.user_attrs["config"]["family"] == "resnet"
        assert trial.params, "params and distributions are recorded for samplers and plots"
    for trial in study.trials:
        if trial_status(trial) == REJECTED:
            assert trial.user_attrs["n_params"] > TINY_BUDGET
            assert "over the budget" in trial.user_attrs["reason"]
            assert "metrics" not in trial.user_attrs
            assert "ray_trial_id" not in trial.user_attrs, "it never became a Ray trial"
            assert (trial.state, trial.value) == (optuna.trial.TrialState.COMPLETE, 0.0)
    board = run_cli("results", "--study", "tiny", "--storage", storage, "--json")
    assert board.returncode == 0, board.stderr
    listed = json.loads(board.stdout)["counts"]
    assert listed["trained"] + listed["pruned"] == 4
    (run,) = ray_runs(study)
    assert run["state"] == "finished"
    ray_trials = sorted(p.name.removeprefix("trial_") for p in Path(run["path"]).glob("trial_*"))
    assert ray_trials == sorted(t.user_attrs["ray_trial_id"] for t in trained), (
        "only configs within the budget may become Ray trials"
    )


def test_a_data_set_typed_as_a_relative_path_trains_in_rays_trial_folders(
    ray_address: str, tiny_space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray runs each trial in a folder of its own: an image folder typed relative to the
    driver's working directory travels absolute, and the study keeps it as typed."""
    from archbench.search import run
    from tests.data.test_image_folder import make_folder

    make_folder(tmp_path / "pets", splits={"train": 12, "test": 2}, size=16)
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path}/s.db"
    settings = settings_for(
        tiny_space, storage, 1, dataset="./pets", subset=1.0, data_dir=str(tmp_path / "cache")
    )
    summary = run(settings)
    assert (summary.trained, summary.failed) == (1, 0)
    assert load(storage).user_attrs["dataset"] == "./pets"


@pytest.mark.ray
@pytest.mark.slow
def test_too_many_rejections_in_a_row_abort_before_any_trial(
    ray_address: str, tiny_space: Path, tmp_path: Path
) -> None:
    from archbench.search import SearchAborted, run
    from archbench.search._ray_backend import ray_runs

    storage = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(SearchAborted, match="1 proposals in a row were rejected by the budget"):
        run(settings_for(tiny_space, storage, 2, max_rejections=1))
    study = load(storage)
    assert counts_by_status(study) == {REJECTED: 1}
    (run,) = ray_runs(study)
    assert run["state"] == "aborted"


@pytest.mark.ray
@pytest.mark.slow
def test_rerun_after_the_driver_was_killed_restores_and_completes(
    ray_address: str, tiny_space: Path, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    args = tiny_search_args(
        tiny_space, storage, 4, "--backend", "ray", "--ray-address", ray_address
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from archbench.cli import main; main()", *args],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_mid_run = False
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.5)
        try:
            study = load(storage)
        except Exception:  # the study does not exist yet
            continue
        runs = study.user_attrs.get("ray_runs", [])
        if counts_by_status(study)[TRAINED] >= 1 and runs and runs[-1]["state"] == "running":
            process.send_signal(signal.SIGKILL)
            killed_mid_run = True
            break
    process.wait()
    assert killed_mid_run, "the search finished before it could be killed"
    # A Ray trial is a stored trial from its proposal on; its Ray id comes with its record.
    recorded_before = {t.user_attrs.get("ray_trial_id") for t in load(storage).trials} - {None}

    result = run_cli(*[a for a in args if a != "--quiet"], "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["trained"] == 4
    study = load(storage)
    counts = counts_by_status(study)
    assert counts[TRAINED] + counts[PRUNED] == 4
    assert counts[RUNNING] == 0, "the killed driver's trials were taken over or failed"
    ray_ids = [t.user_attrs["ray_trial_id"] for t in study.trials if is_trained(t)]
    assert len(ray_ids) == len(set(ray_ids)), "no Ray trial may be recorded twice"
    assert recorded_before <= set(ray_ids)
    (run,) = study.user_attrs["ray_runs"]
    assert run["state"] == "finished", "the interrupted experiment is restored, not restarted"


def test_trial_endings_map_to_archbench_statuses(tiny_space: Path, tmp_path: Path) -> None:
    """ASHA stops, reported failures and dead workers, without waiting for them to happen."""
    ray_search = pytest.importorskip("archbench.search._ray_backend")
    from archbench.models import get_preset
    from archbench.search import prepare_study

    storage = f"sqlite:///{tmp_path}/s.db"
    settings = settings_for(tiny_space, storage, 1, epochs=3)
    context = TrialContext.of(settings)
    study = prepare_study(context)
    callback = ray_search.RecordTrials(ray_search.Recorder(context, study))
    config = get_preset("simple_cnn").with_data(num_classes=10, in_channels=1, input_size=28)
    proposal = {
        "decided": {"config": config.to_dict(), "n_params": 1000},
        "constraints": {"max_params": -29_000.0},
        "reason": None,
        "params": {},
        "distributions": {},
    }

    def epoch(number: int, accuracy: float) -> dict:
        metrics = {"epoch": number, "val_accuracy": accuracy, "seconds": 1.0}
        return {**metrics, "archbench": {"metrics": metrics}, "done": False}

    def trial(trial_id: str) -> SimpleNamespace:
        """A Ray trial of a proposal the searcher asked on the study."""
        config = {"archbench": {**proposal, "trial": ray_search.ask(study).number}}
        return SimpleNamespace(trial_id=trial_id, config=config, num_failures=2, path="/x")

    stopped, full, failing, dead = trial("a"), trial("b"), trial("c"), trial("d")
    callback.on_trial_result(0, [], stopped, {**epoch(1, 0.5), "done": True})
    callback.on_trial_complete(0, [], stopped)
    for number in (1, 2, 3):
        callback.on_trial_result(0, [], full, epoch(number, 0.2 * number))
    callback.on_trial_complete(0, [], full)
    callback.on_trial_complete(0, [], full)  # a restored experiment may end a trial again
    callback.on_trial_result(0, [], failing, epoch(1, 0.5))
    failure = {"val_accuracy": float("nan"), "archbench": {"failed": "non-finite loss: at step 3"}}
    callback.on_trial_result(0, [], failing, failure)
    callback.on_trial_complete(0, [], failing)
    callback.on_trial_error(0, [], dead)
    late = trial("e")  # a sweep failed its stored trial before Ray ended it: a trial of its own
    study.tell(late.config["archbench"]["trial"], state=optuna.trial.TrialState.FAIL)
    for number in (1, 2, 3):
        callback.on_trial_result(0, [], late, epoch(number, 0.7))
    callback.on_trial_complete(0, [], late)

    trials = {t.user_attrs.get("ray_trial_id"): t for t in load(storage).trials}
    assert len(load(storage).trials) == 6, "five recorded in place, one added"
    assert trial_status(trials["e"]) == TRAINED and trials["e"].values == [0.7]
    assert trial_status(trials["a"]) == PRUNED
    assert trials["a"].user_attrs["reason"] == "stopped by ASHA after epoch 1"
    assert trial_status(trials["b"]) == TRAINED
    assert trials["b"].values == [pytest.approx(0.6)]
    assert trials["b"].intermediate_values == {1: 0.2, 2: 0.4, 3: pytest.approx(0.6)}
    assert trial_status(trials["c"]) == FAILED
    assert trials["c"].user_attrs["reason"] == "non-finite loss: at step 3"
    assert trials["c"].user_attrs["epochs_trained"] == 1
    assert trial_status(trials["d"]) == FAILED
    assert "errored 2 time(s)" in trials["d"].user_attrs["reason"]
    # The stop policy is told what settle decided, once per recorded trial: two failures.
    assert callback.recorder.policy.failures == 2


def test_enqueued_trials_are_proposed_first_and_recorded_in_place(
    tiny_space: Path, tmp_path: Path
) -> None:
    """What ``archbench fidelity`` relies on: its pool, enqueued, trains as those very trials."""
    ray_search = pytest.importorskip("archbench.search._ray_backend")
    from archbench.search import prepare_study
    from archbench.store import OWNER, POOL_INDEX, RAY_TRIAL_ID, Ending, settle

    storage = f"sqlite:///{tmp_path}/s.db"
    settings = settings_for(
        tiny_space, storage, 2, sampler="random", ray=RaySettings(scheduler="fifo")
    )
    context = dataclasses.replace(TrialContext.of(settings), pool_only=True)
    study = prepare_study(context)
    pool = [
        {"stem_channels": 8, "num_stages": 1, "stage1.depth": 1, "stage1.channels": 8},
        {"stem_channels": 16, "num_stages": 1, "stage1.depth": 2, "stage1.channels": 16},
    ]
    for index, params in enumerate(pool):
        study.enqueue_trial(params, user_attrs={POOL_INDEX: index})
    recorder = ray_search.Recorder(context, study)
    searcher = ray_search.BudgetedSearcher(recorder, "run")
    first, second = searcher.suggest("ray-a"), searcher.suggest("ray-b")
    assert [first["archbench"]["params"], second["archbench"]["params"]] == pool
    running = load(storage).get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert [t.user_attrs[OWNER]["trial"] for t in running] == [0, 1], "each taken with a claim"
    assert searcher.suggest("ray-c") is None, "nothing else is proposed; the two are in flight"

    searcher.on_trial_result(
        "ray-a", {"archbench/metrics/epoch": 1, "archbench/metrics/val_accuracy": 0.5}
    )
    assert load(storage).trials[0].intermediate_values == {1: 0.5}, "epochs show as they come"
    history = [{"epoch": 1, "val_accuracy": 0.75, "seconds": 1.0}]
    trained = settle(Ending(epochs=1))
    recorder.add("ray-a", first["archbench"], trained, history=history)
    trials = load(storage).trials
    assert len(trials) == 2, "the record is written into the enqueued trial, not beside it"
    assert trials[0].state == optuna.trial.TrialState.COMPLETE
    assert trials[0].values == [0.75] and trials[0].params == pool[0]
    assert trials[0].user_attrs[POOL_INDEX] == 0
    assert trials[0].user_attrs[RAY_TRIAL_ID] == "ray-a"
    assert trial_status(trials[0]) == TRAINED
    searcher.on_trial_complete("ray-a", {"archbench/metrics/val_accuracy": 0.75, "epoch": 1})
    assert searcher.suggest("ray-d") is None, "one still in flight"
    recorder.add("ray-b", second["archbench"], settle(Ending(failed="non-finite loss")))
    searcher.on_trial_complete("ray-b", {"archbench/failed": "non-finite loss"})
    assert searcher.suggest("ray-e") == "FINISHED", "a failed pool config is not replaced"
    assert trial_status(load(storage).trials[1]) == FAILED


def test_two_drivers_at_the_last_slot_never_train_more_than_n(
    tiny_space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Driver B asks and claims between driver A's ask and A's claim: A's claim counts two
    slots for ``--trials 1`` and is refused, as an Optuna worker's would be."""
    ray_search = pytest.importorskip("archbench.search._ray_backend")
    from archbench.search import prepare_study
    from archbench.search._study import load_study
    from archbench.store import QUOTA_REACHED

    storage = f"sqlite:///{tmp_path}/s.db"
    settings = settings_for(tiny_space, storage, 1, sampler="random")
    context = TrialContext.of(settings)
    prepare_study(context)
    drivers = [  # each driver opens the study of its own
        ray_search.BudgetedSearcher(
            ray_search.Recorder(context, load_study(settings, "tiny")), "run"
        )
        for _ in range(2)
    ]
    first, second = drivers
    claim = ray_search.claim
    proposed_between: list[object] = []
    claims: list[int] = []

    def claim_after_the_other(study: optuna.Study, trial: optuna.Trial, attrs: dict) -> int:
        claims.append(trial.number)
        if len(claims) == 1:  # driver A's claim: driver B proposes and claims first
            proposed_between.append(second.suggest("b"))
        return claim(study, trial, attrs)

    monkeypatch.setattr(ray_search, "claim", claim_after_the_other)
    assert first.suggest("a") == "FINISHED", "refused at the claim, and the quota is full"
    assert isinstance(proposed_between[0], dict), "the other driver's proposal trains"
    trials = load(storage).trials
    refused = [t for t in trials if t.user_attrs.get("reason") == QUOTA_REACHED]
    running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    assert len(refused) == 1 and trial_status(refused[0]) == REJECTED
    assert [t.number for t in running] == [proposed_between[0]["archbench"]["trial"]]


@pytest.mark.ray
@pytest.mark.slow
def test_fidelity_driver_killed_mid_setting_resumes_training_each_config_once(
    ray_address: str, tiny_space: Path, tmp_path: Path
) -> None:
    """Fidelity on Ray trains every pool config once per setting, with FIFO (no early stop). Killed
    mid-setting, the restored Ray experiment trains the pool configs its killed driver had
    taken, into their own trials: no sweep fails them and retries their configs beside it."""
    import datetime

    from archbench.store import POOL_INDEX, RAY_TRIAL_ID

    storage = f"sqlite:///{tmp_path}/f.db"
    args = [
        "fidelity", "--space", str(tiny_space), "--max-params", "30k", "--samples", "3",
        "--proxy-epochs", "2", "--proxy-subset", "0.3", "--reference-epochs", "1",
        "--scores", "synflow", "--storage", storage, "--study", "fid", "--backend", "ray",
        "--ray-address", ray_address, "--quiet",
    ]  # fmt: skip
    # Ray saves the experiment each second, so the kill below finds the taken trials saved.
    env = {**child_env(), "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from archbench.cli import main; main()", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    opened = open_storage(storage)
    taken: list[int] = []
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None and not taken:
        time.sleep(0.2)
        try:
            study = optuna.load_study(study_name="fid:epochs=2", storage=opened)
        except KeyError:  # not made yet
            continue
        saved = datetime.datetime.now() - datetime.timedelta(seconds=3)
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        taken = [t.number for t in running if t.datetime_start and t.datetime_start < saved]
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert taken, "the setting finished before it could be killed"

    # A hang guard, not a timing: the restore plus the two other settings take about 100 s on a
    # quiet 2-core machine and over 300 s on a loaded one.
    result = run_cli(*[a for a in args if a != "--quiet"], "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    for label in ("epochs=2", "reference:seed=0"):
        study = optuna.load_study(study_name=f"fid:{label}", storage=opened)
        trials = study.trials
        assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3, label
        assert [t.user_attrs[POOL_INDEX] for t in trials] == [0, 1, 2]
        assert len({t.user_attrs[RAY_TRIAL_ID] for t in trials}) == 3
        assert study.user_attrs["pruner"] == "fifo", "no fidelity training is stopped early"
    assert sum(s.n_trials for s in optuna.get_all_study_summaries(opened)) == 6, "none twice"
