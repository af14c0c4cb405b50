"""Real searches on real SQLite files with real (tiny) proxy training."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest

import archbench
from archbench.budget import Budget
from archbench.evaluators import OnProfile, Report, ShouldStop, TrialOutcome
from archbench.models import ModelConfig
from archbench.search import SearchSettings, run
from archbench.search._context import TrialContext
from archbench.spaces import get_space
from archbench.store import (
    FAILED,
    REJECTED,
    TRAINED,
    counts_by_status,
    open_storage,
    trial_status,
)
from tests.conftest import child_env, run_cli
from tests.search.conftest import TINY_BUDGET, tiny_search_args, tiny_settings, trained_count


def settings_for(space: Path, storage: str, trials: int, **overrides: Any) -> SearchSettings:
    return tiny_settings(space, storage, trials, **overrides)


def load(storage: str) -> optuna.Study:
    return optuna.load_study(study_name="tiny", storage=open_storage(storage))


def test_trains_exactly_n_with_rejections_and_nothing_over_budget(
    tiny_space: Path, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    summary = run(settings_for(tiny_space, storage, 4))
    study = load(storage)
    counts = counts_by_status(study)
    assert counts[TRAINED] == 4 == summary.trained
    assert counts[REJECTED] >= 1, "the tiny budget should reject some proposals"
    for trial in study.trials:
        status = trial_status(trial)
        assert trial.user_attrs["n_params"] > 0  # every proposal is counted, trained or not
        if status == TRAINED:
            assert trial.user_attrs["n_params"] <= TINY_BUDGET
            assert trial.constraints["max_params"] <= 0
            assert len(trial.user_attrs["metrics"]) == 1
            assert 0.0 <= trial.values[0] <= 1.0
        elif status == REJECTED:
            assert trial.user_attrs["n_params"] > TINY_BUDGET
            assert "over the budget" in trial.user_attrs["reason"]
            assert "metrics" not in trial.user_attrs


def test_rerunning_resumes_to_n_in_total(tiny_space: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    run(settings_for(tiny_space, storage, 2))
    run(settings_for(tiny_space, storage, 3))
    assert counts_by_status(load(storage))[TRAINED] == 3


class FlakyTraining:
    """The search's own evaluator, except that its first trial diverges for real and its second
    one raises."""

    in_child_process = False

    def __init__(self, settings: SearchSettings) -> None:
        context = TrialContext.of(settings)
        self.real = context.proxy_training()
        data = self.real.trial_data()
        diverging = dataclasses.replace(
            data.recipe, lr=1e30, schedule="none", grad_clip=None, batch_size=16
        )
        self.diverging = dataclasses.replace(
            self.real, data=dataclasses.replace(data, recipe=diverging)
        )
        self.calls = 0

    def release(self) -> None:
        self.real.release()

    def __call__(
        self,
        cfg: ModelConfig,
        report: Report,
        should_stop: ShouldStop,
        on_profile: OnProfile | None = None,
    ) -> TrialOutcome:
        self.calls += 1
        if self.calls == 1:
            return self.diverging(cfg, report, should_stop)
        if self.calls == 2:
            raise RuntimeError("injected failure")
        return self.real(cfg, report, should_stop)


def test_failures_are_recorded_and_the_study_goes_on(tiny_space: Path, tmp_path: Path) -> None:
    """Trial 1 diverges for real (a huge learning rate), trial 2 raises; both are recorded."""
    storage = f"sqlite:///{tmp_path}/s.db"
    settings = settings_for(tiny_space, storage, 2)
    run(settings, evaluator=FlakyTraining(settings))
    study = load(storage)
    failed = [t for t in study.trials if trial_status(t) == FAILED]
    reasons = sorted(t.user_attrs["reason"] for t in failed)
    assert len(failed) == 2
    assert any("non-finite loss" in r for r in reasons), reasons
    assert any("injected failure" in r for r in reasons), reasons
    assert all(t.state == optuna.trial.TrialState.FAIL for t in failed)
    assert counts_by_status(study)[TRAINED] == 2


def test_two_workers_reach_exactly_n(
    tiny_space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two profiling workers on a CPU: no GPU to hand out, no profile says it was shared, and
    each worker runs on its half of the cores."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    storage = f"sqlite:///{tmp_path}/s.db"
    run(settings_for(tiny_space, storage, 4, workers=2, profile="basic", device="cpu"))
    half = max(1, len(os.sched_getaffinity(0)) // 2)
    study = load(storage)
    assert counts_by_status(study)[TRAINED] == 4
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    for trial in study.trials:
        if trial_status(trial) == TRAINED:
            profile = trial.user_attrs["profile"]
            assert profile["shared_device"] is False and profile["env"]["device"] == "cpu"
            assert profile["env"]["threads"] == half


def _start_search(args: list[str]) -> subprocess.Popen:
    """The search process itself (no shell around it), so SIGKILL hits the search."""
    return subprocess.Popen(
        [sys.executable, "-c", "from archbench.cli import main; main()", *args],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _running_trials(storage: str) -> tuple[int, dict[int, int]]:
    """How many trials trained, and each running trial's number and owner pid; nothing before
    the study exists or while the storage cannot be read."""
    try:
        study = load(storage)
    except Exception:  # the study does not exist yet, or its database is locked
        return 0, {}
    running = {}
    for trial in study.trials:
        owner = trial.user_attrs.get("owner") or {}
        running_here = trial.state == optuna.trial.TrialState.RUNNING
        if running_here and owner.get("trial") == trial.number:
            running[trial.number] = int(owner["pid"])
    return trained_count(study), running


def _kill_mid_trial(storage: str, process: subprocess.Popen, most_trained: int) -> int | None:
    """SIGKILLs the owner of a running trial once a trial trained; returns its pid.

    With at most ``most_trained`` trained, no running trial holds the last slot, so its owner
    still has a trial to run after it: the kill cannot land on a process that has just ended.
    The owner is stopped (SIGSTOP) and the trial read again before the kill, so the kill lands
    while the trial still runs, not after it finished between the read and the kill.
    """
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.3)
        trained, running = _running_trials(storage)
        if not 1 <= trained <= most_trained:
            continue
        for number, pid in running.items():
            os.kill(pid, signal.SIGSTOP)
            if _running_trials(storage)[1].get(number) == pid:
                os.kill(pid, signal.SIGKILL)
                return pid
            os.kill(pid, signal.SIGCONT)
    return None


def _assert_exactly_n_and_no_zombie(storage: str, n: int) -> None:
    study = load(storage)
    # A trial pruned after training holds its slot: the last one runs alone, after the pruner's
    # startup trials, and may be pruned.
    assert trained_count(study) == n, [(t.number, t.state.name, t.user_attrs) for t in study.trials]
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    killed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert killed and all("died" in t.user_attrs["reason"] for t in killed)


@pytest.mark.slow
def test_resume_within_a_second_of_sigkill_fails_the_killed_trial(
    tiny_space: Path, tmp_path: Path
) -> None:
    """The heartbeat (30 s by default) has no time to act: the dead local owner is detected."""
    storage = f"sqlite:///{tmp_path}/s.db"
    args = tiny_search_args(tiny_space, storage, 3, "--epochs", "3")
    process = _start_search(args)
    pid = _kill_mid_trial(storage, process, most_trained=1)
    assert pid == process.pid, "the search finished before it could be killed"
    process.wait()
    result = subprocess.run(  # at once: well within the heartbeat's grace period
        [sys.executable, "-c", "from archbench.cli import main; main()", *args],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _assert_exactly_n_and_no_zombie(storage, 3)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_by_its_sibling(tiny_space: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    args = tiny_search_args(tiny_space, storage, 5, "--epochs", "3", "--workers", "2")
    process = _start_search(args)
    pid = _kill_mid_trial(storage, process, most_trained=2)  # two workers: 2 + 2 < 5
    assert pid is not None and pid != process.pid, "no worker trial to kill"
    assert process.wait(timeout=300) == 0
    _assert_exactly_n_and_no_zombie(storage, 5)


# Runs ``archbench ARGS`` with a SIGKILL of its own process at one point of a trial's life.
_KILLED_AT = """
import os, signal, sys
import optuna
import archbench.store._ledger as ledger
import archbench.search._optuna_backend as search
import archbench.evaluators._runner as runner

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def decide_or_die(*args, **kwargs):
    decision = real_decide(*args, **kwargs)
    return die() if decision.rejected else decision

point, argv = sys.argv[1], sys.argv[2:]
if point == "ask":  # the trial was created, and nothing else was written to it
    optuna.Trial.__init__ = die
elif point == "rejection":  # after the budget rejected a proposal, before its status is written
    real_decide, search.decide = search.decide, decide_or_die
elif point == "claim":  # after the claim is written, before the study is read back
    ledger.sweep_and_count = die
elif point == "training":
    runner.TrialRunner.run = die
from archbench.cli import main
main(argv)
"""


@pytest.mark.slow
def test_kill_9_anywhere_then_the_same_command_at_once_leaves_exactly_n(
    tiny_space: Path, tmp_path: Path
) -> None:
    """Killed as a trial is created, in the rejection loop, in the claim and in training, each
    rerun at once: every dead trial is failed by the next run's sweep, only claimed ones are
    retried, and the last run trains exactly N with nothing RUNNING."""
    storage = f"sqlite:///{tmp_path}/s.db"
    args = tiny_search_args(tiny_space, storage, 3)
    for point in ("ask", "rejection", "claim", "training"):
        killed = subprocess.run(
            [sys.executable, "-c", _KILLED_AT, point, *args],
            env=child_env(), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    study = load(storage)
    assert counts_by_status(study)[TRAINED] == 3
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    reasons = [t.user_attrs["reason"] for t in study.trials if t.state.name == "FAIL"]
    assert len(reasons) == 4 and all("died" in reason for reason in reasons)
    assert ["before its claim" in reason for reason in reasons] == [True, True, False, False]


def test_infeasible_space_fails_before_the_first_trial(tiny_space: Path, tmp_path: Path) -> None:
    minimum = get_space(str(tiny_space)).min_params(
        __import__("archbench.spaces", fromlist=["DataShape"]).DataShape(10, 1, 28)
    )
    result = run_cli(
        "search", "--space", str(tiny_space), "--max-params", "100", "--trials", "1",
        "--storage", f"sqlite:///{tmp_path}/s.db", "--quiet",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{minimum:,}" in result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("--max-params", budget) for budget in ["abc", "-5M", "0", "5MM", "1.5"]]
    + [("--backend", "optuan"), ("--sampler", "tpee"), ("--pruner", "medain")]
    + [("--profile", "fulll"), ("--isolation", "forked")],
)
def test_bad_options_exit_2_with_one_line(option: str, value: str, tmp_path: Path) -> None:
    storage = tmp_path / "s.db"
    result = run_cli("search", option, value, "--storage", f"sqlite:///{storage}")
    assert result.returncode == 2
    assert result.stderr.startswith(f"archbench: error: {option[2:].replace('-', '_')}")
    assert not storage.exists(), "a refused search creates no database"
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_study_with_other_settings_is_not_mixed(tiny_space: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    run(settings_for(tiny_space, storage, 1))
    with pytest.raises(ValueError, match="exists with max_params"):
        run(settings_for(tiny_space, storage, 1, budget=Budget(max_params=20_000)))


def test_a_study_loaded_while_its_creator_writes_settings_waits_for_them(
    tiny_space: Path, tmp_path: Path
) -> None:
    """Optuna writes study attrs one key at a time; a loader must not judge a half-written set."""
    import threading

    from archbench.search import prepare_study

    storage_url = f"sqlite:///{tmp_path}/s.db"
    settings = settings_for(tiny_space, storage_url, 1)
    storage = open_storage(storage_url)
    creator = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    spec = TrialContext.of(settings).spec()
    attrs = {**spec.to_attrs(), "archbench_version": archbench.__version__}  # the mark last
    creator.set_user_attr("space", attrs["space"])  # begun, not finished

    def finish() -> None:
        time.sleep(1.0)
        for key, value in attrs.items():
            creator.set_user_attr(key, value)

    writer = threading.Thread(target=finish)
    writer.start()
    study = prepare_study(TrialContext.of(settings))
    writer.join()
    assert study.user_attrs == attrs


def test_a_baseline_named_by_searches_started_together_is_enqueued_once(
    tiny_space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The creator enqueues the baselines before its last settings key; a loader that waited
    for that key finds them and adds none."""
    import threading

    from archbench.search import prepare_study

    enqueue = optuna.Study.enqueue_trial

    def slow_enqueue(study: optuna.Study, *args: Any, **kwargs: Any) -> None:
        time.sleep(1.0)  # the creator is slow here; the loader starts meanwhile
        enqueue(study, *args, **kwargs)

    monkeypatch.setattr(optuna.Study, "enqueue_trial", slow_enqueue)
    storage = f"sqlite:///{tmp_path}/s.db"
    settings = settings_for(
        tiny_space, storage, 1, baselines=("simple_cnn",), budget=Budget(max_params=200_000)
    )
    creator = threading.Thread(target=prepare_study, args=(TrialContext.of(settings),))
    creator.start()
    time.sleep(0.3)
    prepare_study(TrialContext.of(settings))
    creator.join()
    assert [t.user_attrs.get("baseline") for t in load(storage).trials] == ["simple_cnn"]


@pytest.mark.parametrize("written", [TINY_BUDGET, 20_000])
def test_settings_a_dead_creator_left_half_written_are_filled_in_or_refused(
    written: int, tiny_space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archbench.search import _study, prepare_study

    monkeypatch.setattr(_study, "_CREATOR_WAIT_SECONDS", 0.3)
    storage_url = f"sqlite:///{tmp_path}/s.db"
    settings = settings_for(tiny_space, storage_url, 1)
    storage = open_storage(storage_url)
    creator = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    creator.set_user_attr("max_params", written)  # and then it died
    if written != TINY_BUDGET:
        with pytest.raises(ValueError, match="exists with max_params=20000"):
            prepare_study(TrialContext.of(settings))
    else:
        study = prepare_study(TrialContext.of(settings))
        spec = TrialContext.of(settings).spec()
        assert study.user_attrs == {**spec.to_attrs(), "archbench_version": archbench.__version__}


def test_baselines_run_first(tiny_space: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    run(
        settings_for(
            tiny_space, storage, 2, baselines=("simple_cnn",), budget=Budget(max_params=200_000)
        )
    )
    first = load(storage).trials[0]
    assert first.user_attrs["baseline"] == "simple_cnn"
    assert trial_status(first) == TRAINED
    assert first.user_attrs["config"]["family"] == "vgg"


def test_journal_storage_and_child_process_isolation(tiny_space: Path, tmp_path: Path) -> None:
    """A journal file works as storage, and a trial in its own process reports every epoch."""
    storage = str(tmp_path / "search.log")
    run(settings_for(tiny_space, storage, 1, isolation="process", epochs=2))
    study = optuna.load_study(study_name="tiny", storage=open_storage(storage))
    trained = [t for t in study.trials if trial_status(t) == TRAINED]
    assert len(trained) == 1
    assert [m["epoch"] for m in trained[0].user_attrs["metrics"]] == [1, 2]
    assert sorted(trained[0].intermediate_values) == [1, 2]


def test_multi_objective_records_accuracy_and_params(tiny_space: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    run(settings_for(tiny_space, storage, 2, objectives=("accuracy", "params"), sampler="nsga2"))
    study = load(storage)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    for trial in study.trials:
        if trial_status(trial) == TRAINED:
            assert trial.values[1] == trial.user_attrs["n_params"] <= TINY_BUDGET
        if trial_status(trial) == REJECTED:  # NSGA-II only learns from COMPLETE trials
            assert trial.state == optuna.trial.TrialState.COMPLETE
            assert trial.values[0] == 0.0 and trial.constraints["max_params"] > 0


def test_fit_budget_trains_shrunk_configs_instead_of_rejecting(
    tiny_space: Path, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    run(settings_for(tiny_space, storage, 3, budget=Budget(max_params=12_000, fit=True)))
    study = load(storage)
    statuses = [trial_status(t) for t in study.trials]
    assert statuses.count(TRAINED) == 3
    shrunk = [t for t in study.trials if "sampled_config" in t.user_attrs]
    for trial in study.trials:
        if trial_status(trial) == TRAINED:
            assert trial.user_attrs["n_params"] <= 12_000
    assert all(t.user_attrs["sampled_config"] != t.user_attrs["config"] for t in shrunk)


def test_memory_constraint_rejects_configs_that_cannot_fit_the_batch(
    tiny_space: Path, tmp_path: Path
) -> None:
    result = run_cli(
        *tiny_search_args(tiny_space, f"sqlite:///{tmp_path}/s.db", 1),
        "--min-batch", "100000", "--memory", "64MiB", "--max-rejections", "2",
        "--max-params", "1M", "--study", "memory",
    )  # fmt: skip
    assert result.returncode == 2
    assert "2 proposals in a row were rejected" in result.stderr
    assert "A new study created" not in result.stderr, "Optuna's INFO lines need --verbose"
    storage = open_storage(f"sqlite:///{tmp_path}/s.db")
    study = optuna.load_study(study_name="memory", storage=storage)
    reasons = [t.user_attrs["reason"] for t in study.trials]
    assert len(reasons) == 2 and all("predicted max training batch" in r for r in reasons)
