"""Enqueued trials on Ray: take one as Optuna's ``ask`` does, and finish it where it stands.

The Optuna backend trains an enqueued (WAITING) trial in place: ``ask`` moves it to RUNNING and
the objective writes its outcome. Ray's driver records trials it created itself, so for the same
contract (``archbench fidelity``'s pool, the configs a dead owner left to retry) it takes a
WAITING trial the same way, names this process its owner (so ``_claim`` counts its slot and a
later sweep fails it if the driver dies), and at the end writes the Ray trial's record into it
instead of adding a second trial. A driver that restores a killed driver's Ray experiment owns
the taken trials that experiment trains again (``reown``), so no sweep retries their configs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from archbench.search._owner import this_process
from archbench.search._record import OWNER, REASON, STATUS

FIXED_PARAMS = "fixed_params"  # Optuna's system attr for the params given to ``enqueue_trial``


def take_waiting(study: optuna.Study) -> FrozenTrial | None:
    """The oldest WAITING trial of ``study``, now RUNNING and owned by this process; or None.

    Safe when several drivers take at once: the storage moves a trial out of WAITING only once.
    """
    storage = study._storage  # the public Study API can only pop inside ``ask``
    for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        if storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
            storage.set_trial_user_attr(
                trial._trial_id, OWNER, this_process(trial.number).to_dict()
            )
            return storage.get_trial(trial._trial_id)
    return None


def reown(study: optuna.Study, numbers: Iterable[int]) -> list[int]:
    """Names this process the owner of the taken trials ``numbers`` still RUNNING.

    A restored Ray experiment trains again the trials its killed driver had in flight. Owned by
    the dead driver, their taken trials would be failed by the next sweep and their configs
    enqueued again, to be trained a second time beside the restored ones.

    Returns:
        The numbers now owned by this process.
    """
    storage = study._storage
    owned = []
    for number in sorted(numbers):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
        if storage.get_trial(trial_id).state == TrialState.RUNNING:
            storage.set_trial_user_attr(trial_id, OWNER, this_process(number).to_dict())
            owned.append(number)
    return owned


def waiting_params(trial: FrozenTrial) -> dict[str, Any]:
    """The params a WAITING trial fixes: enqueued ones, or those of the trial it retries."""
    return {**trial.system_attrs.get(FIXED_PARAMS, {}), **trial.params}


def carried_attrs(trial: FrozenTrial) -> dict[str, Any]:
    """The user attrs a WAITING trial brings to its record (``pool_index``...), not the
    claim or the status of a trial it retries."""
    return {k: v for k, v in trial.user_attrs.items() if k not in (OWNER, STATUS, REASON)}


def finish_in_place(study: optuna.Study, number: int, record: FrozenTrial) -> bool:
    """Writes ``record`` (a trial made by ``create_trial``) into the taken trial ``number``.

    Returns:
        False when that trial is finished already (a sweep failed it after the driver died and
        its config was retried): the caller then adds the record as a trial of its own.
    """
    storage = study._storage
    trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    if storage.get_trial(trial_id).state.is_finished():
        return False
    for name, value in record.params.items():
        distribution = record.distributions[name]
        storage.set_trial_param(trial_id, name, distribution.to_internal_repr(value), distribution)
    for step, value in record.intermediate_values.items():
        storage.set_trial_intermediate_value(trial_id, step, value)
    for key, value in record.system_attrs.items():
        storage.set_trial_system_attr(trial_id, key, value)
    for key, value in record.user_attrs.items():
        storage.set_trial_user_attr(trial_id, key, value)
    return storage.set_trial_state_values(trial_id, record.state, record.values)
