"""The quota claim: never more than N trained, whoever runs the trials (real storages)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from archbench.store import TRAINED, counts_by_status, normalize_storage_url, open_storage
from archbench.store._ledger import claim_attrs, count_slots, write
from tests.conftest import child_env
from tests.search.conftest import tiny_search_args


@pytest.fixture(params=["sqlite", "postgres"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A storage URL per kind; a PostgreSQL server joins as ``request.getfixturevalue(...)``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/s.db"
    if request.param == "journal":
        return str(tmp_path / "s.log")
    return str(request.getfixturevalue(f"{request.param}_url"))


def _interleavings(n: int) -> list[tuple[tuple[int, str], ...]]:
    """Every order of n claims' write and read steps, each trial writing before it reads."""
    steps = [(i, step) for i in range(n) for step in ("write", "read")]
    orders = set()
    for order in itertools.permutations(steps):
        if all(order.index((i, "write")) < order.index((i, "read")) for i in range(n)):
            orders.add(order)
    return sorted(orders)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_no_interleaving_of_claims_admits_more_than_the_quota(kind: str, tmp_path: Path) -> None:
    """Three trials race for two slots, in every order of their write and read steps.

    Claims that overlap may all refuse (the documented price); claims one at a time fill the
    quota exactly.
    """
    url = f"sqlite:///{tmp_path}/c.db" if kind == "sqlite" else str(tmp_path / "c.log")
    storage = open_storage(url)
    quota = 2
    for index, order in enumerate(_interleavings(3)):
        study = optuna.create_study(storage=storage, study_name=f"race{index}")
        trials = [study.ask() for _ in range(3)]
        admitted = []
        for trial_index, step in order:
            if step == "write":
                write(trials[trial_index], claim_attrs(trials[trial_index].number))
            elif count_slots(study.get_trials(deepcopy=False)) <= quota:
                admitted.append(trial_index)
        assert len(admitted) <= quota, (order, admitted)
        if all(order[2 * i][0] == order[2 * i + 1][0] for i in range(3)):  # one at a time
            assert len(admitted) == quota, (order, admitted)


def test_three_separate_commands_train_exactly_n(storage_url: str, tiny_space: Path) -> None:
    """Three `archbench search` processes started together on one new study: N trained in
    total, and the baseline they all name is evaluated once."""
    args = tiny_search_args(tiny_space, storage_url, 4, "--baseline", "simple_cnn")
    command = [sys.executable, "-c", "from archbench.cli import main; main()", *args]
    processes = [
        subprocess.Popen(command, env=child_env(), stderr=subprocess.PIPE) for _ in range(3)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr.decode()
    study = optuna.load_study(study_name="tiny", storage=open_storage(storage_url))
    counts = counts_by_status(study)
    trials = [(t.number, t.state.name, t.user_attrs.get("reason")) for t in study.trials]
    assert counts[TRAINED] == 4, (counts, trials)  # one epoch: no trial can be pruned
    assert [t.user_attrs.get("baseline") for t in study.trials].count("simple_cnn") == 1


@pytest.mark.parametrize("storage_url", ["sqlite", "postgres"], indirect=True)
def test_searches_started_together_on_a_new_database_all_open_it(storage_url: str) -> None:
    """Every opener creates the tables of a new database; those that lose the race retry."""
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy

    if storage_url.startswith("postgresql"):  # a database of its own, with no tables yet
        engine = sqlalchemy.create_engine(
            normalize_storage_url(storage_url), isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("CREATE DATABASE schema_race"))
        engine.dispose()
        storage_url = storage_url.rsplit("/", 1)[0] + "/schema_race"
    with ThreadPoolExecutor(6) as pool:
        opened = list(pool.map(lambda _: open_storage(storage_url), range(6)))
    assert len(opened) == 6
