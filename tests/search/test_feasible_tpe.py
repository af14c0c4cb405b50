"""``FeasibleTPESampler``: budget rejections neither start TPE's model nor shape its split."""

from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from archbench.search._samplers import FeasibleTPESampler, rejections_since_trained
from archbench.store import QUOTA_REACHED, REJECTED, status_attrs
from archbench.store._ledger import without_rejections, write

X = {"x": FloatDistribution(0.0, 1.0)}


def fill(study: optuna.Study, trained: list[float], rejected: list[float]) -> None:
    for x in trained:
        study.enqueue_trial({"x": x})
        trial = study.ask(X)
        trial.set_constraint("max_params", -5.0)
        study.tell(trial, x)
    for x in rejected:
        study.enqueue_trial({"x": x})
        trial = study.ask(X)
        trial.set_constraint("max_params", 1000.0)
        study.tell(trial, state=TrialState.PRUNED)


def test_the_view_hides_finished_rejections_only() -> None:
    study = optuna.create_study(direction="maximize")
    fill(study, trained=[0.2, 0.4], rejected=[0.9, 0.8, 0.7])
    running = study.ask(X)
    running.set_constraint("max_params", 1000.0)  # rejected but not yet told: constant liar
    numbers = [t.number for t in without_rejections(study)._get_trials(deepcopy=False)]
    assert numbers == [0, 1, 5]
    assert len(study.get_trials()) == 6  # the storage keeps every rejection


def test_the_view_hides_quota_reached_trials() -> None:
    """A ``quota reached`` trial satisfies its constraints but never trained."""
    study = optuna.create_study(direction="maximize")
    fill(study, trained=[0.2], rejected=[])
    refused = study.ask(X)
    refused.set_constraint("max_params", -5.0)
    write(refused, status_attrs(REJECTED, QUOTA_REACHED))
    study.tell(refused, state=TrialState.PRUNED)
    numbers = [t.number for t in without_rejections(study)._get_trials(deepcopy=False)]
    assert numbers == [0]


def test_startup_counts_trained_trials_only() -> None:
    def proposes_from_a_model(sampler: optuna.samplers.TPESampler) -> bool:
        study = optuna.create_study(direction="maximize", sampler=sampler)
        fill(study, trained=[0.1, 0.3], rejected=[i / 40 for i in range(40)])
        trial = study._storage.get_trial(study.ask().number)  # type: ignore[attr-defined]
        return sampler.sample_relative(study, trial, X) != {}

    assert proposes_from_a_model(optuna.samplers.TPESampler(multivariate=True, seed=0))
    assert not proposes_from_a_model(FeasibleTPESampler(multivariate=True, seed=0))


def test_proposals_follow_the_best_trained_trial_not_feasibility() -> None:
    """Plain TPE's "below" set holds every trained trial when rejections fill the rest, so its
    proposals spread over all of them; this sampler's below set is the best trained trial."""
    sampler = FeasibleTPESampler(multivariate=True, seed=0, n_startup_trials=5)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    fill(study, trained=[0.05, 0.1, 0.15, 0.2], rejected=[0.4 + i / 100 for i in range(40)])
    fill(study, trained=[0.9], rejected=[])  # trained last: TPE, not the random fallback, proposes
    proposals = []
    for _ in range(10):
        trial = study.ask(X)
        proposals.append(trial.params["x"])
        study.tell(trial, state=TrialState.FAIL)  # keeps the model fixed
    assert sum(x > 0.6 for x in proposals) >= 7


def test_a_run_of_rejections_switches_tpe_to_random_until_a_config_trains() -> None:
    """Blind to rejections, TPE keeps proposing where its model points; past the run limit the
    proposal is random, and the next trained trial hands the proposals back to TPE."""
    sampler = FeasibleTPESampler(
        multivariate=True, seed=0, n_startup_trials=5, random_after_rejections=3
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def proposes_from_the_model() -> bool:
        trial = study.ask(X)
        frozen = study._storage.get_trial(trial._trial_id)  # type: ignore[attr-defined]
        from_model = sampler.sample_relative(study, frozen, X) != {}
        study.tell(trial, state=TrialState.FAIL)  # a failure neither trains nor rejects
        return from_model

    fill(study, trained=[0.1, 0.2, 0.3, 0.4, 0.9], rejected=[0.5, 0.6])
    assert rejections_since_trained(study) == 2
    assert proposes_from_the_model()
    fill(study, trained=[], rejected=[0.7])
    assert rejections_since_trained(study) == 3
    assert not proposes_from_the_model()
    fill(study, trained=[0.8], rejected=[])
    assert rejections_since_trained(study) == 0
    assert proposes_from_the_model()


def test_random_proposals_do_not_replay_the_startup_draws() -> None:
    sampler = FeasibleTPESampler(seed=0, n_startup_trials=5, random_after_rejections=1)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    startup = [study.ask(X) for _ in range(2)]
    for trial in startup:
        trial.set_constraint("max_params", 1000.0)
        study.tell(trial, state=TrialState.PRUNED)
    assert study.ask(X).params["x"] not in {t.params["x"] for t in startup}
