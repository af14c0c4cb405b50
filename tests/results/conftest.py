"""One real tiny search, run once per test session and read by every results test.

Four trained trials of the tiny space on 20% of mnist5k for one epoch, with rejections in
between (the 30k budget cuts about half of the space). 20% rather than the search tests' 5% so
that the proxy accuracies differ and the leaderboard order means something.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
import yaml

from archbench.search import run
from archbench.store import open_storage
from tests.search.conftest import TINY_SPACE, tiny_settings

STUDY = "tiny"
TRAINED_TRIALS = 4


@dataclass(frozen=True)
class TinyStudy:
    folder: Path
    storage: str
    name: str

    def load(self) -> optuna.Study:
        return optuna.load_study(study_name=self.name, storage=open_storage(self.storage))


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> TinyStudy:
    folder = tmp_path_factory.mktemp("results")
    space = folder / "tiny.yaml"
    space.write_text(yaml.safe_dump(TINY_SPACE))
    storage = f"sqlite:///{folder}/archbench.db"
    run(tiny_settings(space, storage, TRAINED_TRIALS, subset=0.2, study=STUDY))
    return TinyStudy(folder, storage, STUDY)


def copy_into_memory(
    study: optuna.Study, directions: list[str], values: dict[int, list[float]] | None = None
) -> optuna.Study:
    """The trials of ``study`` in a new in-memory study, optionally with other objectives.

    Lets a test see the same real records as, e.g., a two-objective study without a second
    search.

    Args:
        values: trial number -> objective values for the copied complete trials.
    """
    copy = optuna.create_study(directions=directions, study_name=study.study_name)
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    for trial in study.get_trials(deepcopy=False):
        copy.add_trial(
            optuna.create_trial(
                state=trial.state,
                values=(values or {}).get(trial.number, trial.values),
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=trial.user_attrs,
                constraints=trial.constraints,
            )
        )
    return copy
