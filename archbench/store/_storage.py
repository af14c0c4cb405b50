"""Opening an Optuna storage from what the user typed.

SQLite by default (``results/archbench.db``, which optuna-dashboard opens as-is), any SQLAlchemy
URL (PostgreSQL for several machines, through whichever driver is installed), or a journal file
(``*.log``/``*.journal``), which Optuna recommends for several processes on one machine. RDB
storages opened with a heartbeat fail the trials of a worker killed with SIGKILL; the search
passes the callback that retries their configs (``_ledger.retry``).
"""

from __future__ import annotations

import importlib
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.storages import RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial

DEFAULT_STORAGE = "sqlite:///results/archbench.db"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
# SQLAlchemy dialect suffix per PostgreSQL driver, in order of preference (psycopg 3 is the
# maintained one; ``postgresql://`` alone would mean psycopg2 to SQLAlchemy).
POSTGRES_DRIVERS = {"psycopg": "psycopg", "psycopg2": "psycopg2"}
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
POSTGRES_MISSING = "storage: PostgreSQL needs a driver: pip install 'archbench[postgres]'"


def postgres_driver() -> str | None:
    """The SQLAlchemy driver name of the first PostgreSQL driver that imports, if any."""
    for module, driver in POSTGRES_DRIVERS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        return driver
    return None


def normalize_storage_url(storage: str | None) -> str:
    """A URL for ``storage``: a plain ``.db`` path becomes a SQLite URL, and a driverless
    ``postgresql://`` URL names the installed driver.

    Raises:
        ValueError: for a path that is no storage, or a PostgreSQL URL without a driver.
    """
    if not storage:
        return DEFAULT_STORAGE
    if storage.startswith(POSTGRES_SCHEMES):
        driver = postgres_driver()
        if driver is None:
            raise ValueError(POSTGRES_MISSING)
        return f"postgresql+{driver}://{storage.split('://', 1)[1]}"
    if "://" in storage or storage.endswith(JOURNAL_SUFFIXES):
        return storage
    if storage.endswith(SQLITE_SUFFIXES):
        return f"sqlite:///{storage}"
    raise ValueError(
        f"storage: cannot read {storage!r}; use sqlite:///path.db, another SQLAlchemy URL, "
        "a path ending in .db, or a journal file ending in .log"
    )


def open_storage(
    storage: str | None,
    *,
    heartbeat_seconds: int | None = None,
    on_stale: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    create: bool = True,
) -> optuna.storages.BaseStorage:
    """Opens (and with ``create`` makes the folder of) the storage behind ``storage``.

    ``heartbeat_seconds`` turns on an RDB storage's heartbeat, and ``on_stale`` is called with
    each trial it finds stale.

    Without ``create`` a missing file is an error, so that a mistyped path for reading leaves no
    empty database behind; the message lists the storage files next to it.

    Raises:
        ValueError: for an unreadable URL, or a missing file when ``create`` is False.
    """
    url = normalize_storage_url(storage)
    journal = url.endswith(JOURNAL_SUFFIXES) and "://" not in url
    if journal or url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not create and not path.exists():
            raise ValueError(f"storage: {url} does not exist; found: {_nearby(path.parent)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if journal:
            return JournalStorage(JournalFileBackend(str(path)))
    kwargs: dict = {}
    if heartbeat_seconds:  # experimental in Optuna 5 but the only stale-trial detection there is
        kwargs = {
            "heartbeat_interval": heartbeat_seconds,
            "grace_period": 2 * heartbeat_seconds,
        }
    engine_kwargs = {"connect_args": {"timeout": 60.0}} if url.startswith("sqlite") else None
    attempt = 0
    while True:
        attempt += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                if heartbeat_seconds and on_stale is not None:
                    kwargs["heartbeat_stale_trial_callback"] = on_stale
                return RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        except Exception as exc:  # SQLAlchemy raises many kinds; all mean "cannot open this URL"
            if _lost_schema_race(exc) and attempt < SCHEMA_RACE_ATTEMPTS:
                time.sleep(0.2 * attempt)
                continue
            message = str(exc).strip()
            first_line = message.splitlines()[0] if message else type(exc).__name__
            raise ValueError(f"storage: cannot open {url}: {first_line}") from None


def _nearby(folder: Path) -> str:
    suffixes = (*SQLITE_SUFFIXES, *JOURNAL_SUFFIXES)
    found = sorted(str(p) for p in folder.glob("*") if p.is_file() and p.name.endswith(suffixes))
    return ", ".join(found) if found else f"no storage files in {folder}/"


# Searches started together on a new database all create its tables; the losers retry.
SCHEMA_RACE_ATTEMPTS = 5


def _lost_schema_race(exc: Exception) -> bool:
    """Whether another process created the same tables first (SQLite or PostgreSQL wording)."""
    return isinstance(exc, sqlalchemy.exc.IntegrityError) or "already exists" in str(exc)


def list_study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
