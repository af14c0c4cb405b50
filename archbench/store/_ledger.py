"""The ledger: archbench's bookkeeping in the Optuna storage, and the only module that uses
Optuna's private API.

A trial is owned from the write that makes it RUNNING (``ask``), claims one of the ``--trials N``
slots after its budget decision (``claim``), and is recorded when it ends; docs/CONTRACTS.md
draws the states.
A process that died is told apart on this host by its pid and start time (``Owner.is_dead``); its
RUNNING trials are failed by the next sweep, and the configs of those that held a claim retried.

**Why a claim never lets more than N train** (any storage whose reads see every committed write:
SQLite, PostgreSQL, a journal file): a claim is one write, then one read that counts the slots
taken, its own included, and the trial trains only if that count is at most N. Take the last of
N + 1 admitted claims to be written: its read came after every other write, so it counted N + 1
and was refused. The price is the other way: two claims within one another's write-to-read
window both count each other, and at the last free slot both may be refused (``quota
reached``); their processes then try again while the study holds fewer than N trained trials.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import warnings
from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import optuna
import sqlalchemy.exc
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.study._constrained_optimization import _CONSTRAINTS_KEY
from optuna.trial import FrozenTrial, TrialState

from archbench.store._owner import Owner
from archbench.store._record import (
    OWNER,
    RUN_ATTRS,
    is_rejected,
    is_trained,
    owner_of,
    status_attrs,
)
from archbench.store._settle import Ending, settle

MAX_RETRIES = 2  # retries of one config whose trial died


def ask(study: optuna.Study) -> optuna.Trial:
    """``study.ask()``, with the trial owned by this process in the write that makes it RUNNING,
    so that no kill leaves a RUNNING trial without an owner.

    An enqueued trial is taken first, as Optuna takes it (``_take``). A new trial is created with
    its owner (``trial`` None: its number is not known yet).
    """
    study._thread_local.cached_all_trials = None  # as Study.ask: read the storage afresh
    for waiting in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        if _take(study._storage, waiting._trial_id, Owner.this_process(waiting.number).to_dict()):
            return optuna.Trial(study, waiting._trial_id)
    template = FrozenTrial(
        number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.now(),
        datetime_complete=None, params={}, distributions={},
        user_attrs={OWNER: Owner.this_process(None).to_dict()}, system_attrs={},
        intermediate_values={}, trial_id=-1,
    )  # fmt: skip
    return optuna.Trial(study, study._storage.create_new_trial(study._study_id, template))


def _take(storage: optuna.storages.BaseStorage, trial_id: int, owner: dict[str, Any]) -> bool:
    """Switches a waiting trial to RUNNING with its owner, unless another process took it.

    One transaction on a database, as ``RDBStorage.set_trial_state_values`` switches it. The
    owner cannot be written before the switch, since another process may take the trial in
    between and claim it; after the switch, a kill between the two writes would leave it RUNNING
    without an owner. A journal file appends the two one after the other.
    """
    backend = getattr(storage, "_backend", storage)  # RDBStorage behind Optuna's cache
    if not isinstance(backend, RDBStorage):
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                storage.set_trial_user_attr(trial_id, OWNER, owner)
                return True
        return False
    try:
        with _create_scoped_session(backend.scoped_session) as session:
            trial = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
            if trial.state != TrialState.WAITING:
                return False
            trial.state = TrialState.RUNNING
            trial.datetime_start = datetime.now()
            backend._set_trial_attr_without_commit(
                session, models.TrialUserAttributeModel, trial_id, OWNER, owner
            )
    except sqlalchemy.exc.IntegrityError:  # as Optuna's switch: another process won
        return False
    return True


def owning_asks(study: optuna.Study) -> optuna.Study:
    """``study``, whose ``ask`` (which ``Study.optimize`` calls) is the ledger's ``ask``."""
    study.ask = functools.partial(ask, study)  # type: ignore[method-assign]
    return study


def claim(study: optuna.Study, trial: optuna.Trial, attrs: Mapping[str, Any]) -> int:
    """Claims a slot for ``trial`` and writes ``attrs`` (its budget decision) with the claim,
    then sweeps dead local owners and counts the slots taken, this one included: one write and
    one read of the storage.

    Returns:
        The slots taken as read after the claim; the trial may train if it is at most N.
    """
    write(trial, {**attrs, **claim_attrs(trial.number)})
    return sweep_and_count(study)


def claim_attrs(number: int) -> dict[str, Any]:
    """The owner attr that marks this process's ownership of trial ``number`` as a claim."""
    return {OWNER: Owner.this_process(number, claimed=True).to_dict()}


def write(
    trial: optuna.Trial, attrs: Mapping[str, Any], constraints: Mapping[str, float] | None = None
) -> None:
    """Writes user attrs and constraints of a live trial, in one transaction on a database.

    ``Trial.set_user_attr`` and ``set_constraint`` commit once per key (and the constraint reads
    the trial first); a trial record is about ten keys, and on SQLite each commit costs
    milliseconds. The trial's own view of its attrs is updated as those methods do.
    """
    system = {
        f"{_CONSTRAINTS_KEY}:{key}": float(value) for key, value in (constraints or {}).items()
    }
    write_attrs(trial.study._storage, trial._trial_id, attrs, system)
    cached = trial._cached_frozen_trial
    cached.user_attrs.update(attrs)
    cached.system_attrs.update(system)


def write_attrs(
    storage: optuna.storages.BaseStorage,
    trial_id: int,
    attrs: Mapping[str, Any],
    system_attrs: Mapping[str, Any] | None = None,
) -> None:
    """User and system attrs of trial ``trial_id``: one transaction on a relational storage,
    key by key on any other (a journal file appends each key anyway)."""
    backend = getattr(storage, "_backend", storage)  # RDBStorage behind Optuna's cache
    if not isinstance(backend, RDBStorage):
        for key, value in attrs.items():
            storage.set_trial_user_attr(trial_id, key, value)
        for key, value in (system_attrs or {}).items():
            storage.set_trial_system_attr(trial_id, key, value)
        return
    with _create_scoped_session(backend.scoped_session, True) as session:
        for model, written in (
            (models.TrialUserAttributeModel, attrs),
            (models.TrialSystemAttributeModel, system_attrs or {}),
        ):
            for key, value in written.items():
                backend._set_trial_attr_without_commit(session, model, trial_id, key, value)


def holds_slot(trial: FrozenTrial) -> bool:
    """Trained, pruned after training, or RUNNING with a claim of its own."""
    if trial.state == TrialState.RUNNING:
        owner = owner_of(trial)
        return owner is not None and owner.claimed
    return is_trained(trial)


def count_slots(trials: list[FrozenTrial]) -> int:
    return sum(holds_slot(t) for t in trials)


def sweep_and_count(study: optuna.Study) -> int:
    """Fails the trials of dead local owners, then counts the slots taken; one read serves both."""
    trials = study.get_trials(deepcopy=False)
    failed = set(fail_orphans(study, trials))
    return count_slots([t for t in trials if t.number not in failed])


def fail_orphans(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> list[int]:
    """Fails the RUNNING trials of ``study`` whose local owner died, and retries the configs of
    those that held a claim (an unclaimed one died before its budget decision or at it).

    ``trials``: the study's trials as just read, to save a read of the storage.

    Safe when several processes sweep at once: the storage lets only one of them finish a trial,
    and only that one enqueues the retry.

    Returns:
        The numbers of the trials this call failed.
    """
    storage = study._storage  # the public Study API cannot finish another process's trial
    failed: list[int] = []
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in trials:
        owner = owner_of(trial)
        if trial.state != TrialState.RUNNING or owner is None or not owner.is_dead():
            continue
        died = f"its process (pid {owner.pid} on {owner.host}) died"
        settled = settle(
            Ending(
                failed=f"{died}; config retried" if owner.claimed else f"{died} before its claim"
            )
        )
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            write_attrs(storage, trial._trial_id, status_attrs(settled.status, settled.reason))
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial.number)
                if owner.claimed:
                    retry(study, copy.deepcopy(storage.get_trial(trial._trial_id)))
    return failed


def retry(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueues ``trial``'s params again with the attrs it was enqueued with, not its own run's
    record (``RUN_ATTRS``), at most ``MAX_RETRIES`` times. The heartbeat calls it too, for a
    stale trial of another host (``archbench/search/_study.py``)."""
    retried = copy.copy(trial)
    retried.user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in RUN_ATTRS}
    with warnings.catch_warnings():  # the callback is marked experimental; it is what we mean
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)(study, retried)


def report_epoch(study: optuna.Study, number: int, step: int, value: float) -> None:
    """An intermediate value of trial ``number``, as ``Trial.report`` writes it."""
    study._storage.set_trial_intermediate_value(_trial_id(study, number), step, value)


def reown(study: optuna.Study, numbers: Iterable[int]) -> list[int]:
    """Names this process the owner, with a claim, of the trials ``numbers`` still RUNNING.

    A restored Ray experiment trains again the trials its killed driver had in flight. Owned by
    the dead driver, their stored trials would be failed by the next sweep and their configs
    enqueued again, to be trained a second time beside the restored ones.

    Returns:
        The numbers now owned by this process.
    """
    storage = study._storage
    owned = []
    for number in sorted(numbers):
        trial_id = _trial_id(study, number)
        if storage.get_trial(trial_id).state == TrialState.RUNNING:
            owner = Owner.this_process(number, claimed=True)
            storage.set_trial_user_attr(trial_id, OWNER, owner.to_dict())
            owned.append(number)
    return owned


def finish_in_place(study: optuna.Study, number: int, record: FrozenTrial) -> bool:
    """Writes ``record`` (a trial made by ``create_trial``) into the RUNNING trial ``number``,
    whose params its ``ask`` wrote: intermediate values, attrs, then state and values.

    Returns:
        False when that trial is finished already (a sweep failed it after the driver died and
        its config was retried): the caller then adds the record as a trial of its own.
    """
    storage = study._storage
    trial_id = _trial_id(study, number)
    if storage.get_trial(trial_id).state.is_finished():
        return False
    for step, value in record.intermediate_values.items():
        storage.set_trial_intermediate_value(trial_id, step, value)
    write_attrs(storage, trial_id, record.user_attrs, record.system_attrs)
    return storage.set_trial_state_values(trial_id, record.state, record.values)


def _trial_id(study: optuna.Study, number: int) -> int:
    return study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)


def without_rejections(study: optuna.Study) -> optuna.Study:
    """``study`` as ``FeasibleTPESampler`` reads it: finished rejected trials are left out.

    TPE reads trials through ``Study._get_trials``; this view overrides that one method.
    """
    return cast(optuna.Study, _WithoutRejections(study))


class _WithoutRejections:
    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> Sequence[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        return [t for t in trials if t.state == TrialState.RUNNING or not is_rejected(t)]
