"""The leaderboard on a real study: order, ranks, filters, JSON and CSV, and the study list."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest

from archbench.results import leaderboard, list_studies, load_study, read_trials
from archbench.store import counts_by_status, trial_status
from tests.conftest import invoke, run_cli
from tests.results.conftest import TRAINED_TRIALS, TinyStudy, copy_into_memory


def expected_order(study: optuna.Study) -> list[int]:
    """Trained trials by accuracy (ties: fewer params, then trial number), from the raw records."""
    trained = [t for t in study.trials if t.user_attrs.get("status") == "trained"]
    trained.sort(key=lambda t: (-t.user_attrs["val_accuracy"], t.user_attrs["n_params"], t.number))
    return [t.number for t in trained]


def test_trained_trials_lead_by_accuracy_then_params(tiny_study: TinyStudy) -> None:
    study = tiny_study.load()
    board = leaderboard(study)
    statuses = [entry.trial.status for entry in board.entries]
    assert statuses[:TRAINED_TRIALS] == ["trained"] * TRAINED_TRIALS
    assert "rejected" in statuses[TRAINED_TRIALS:], "the tiny budget should reject some configs"
    assert [e.trial.number for e in board.entries[:TRAINED_TRIALS]] == expected_order(study)
    assert [e.rank for e in board.entries] == [1, 2, 3, 4] + [None] * (len(statuses) - 4)
    assert len(board.entries) == len(study.trials)
    assert board.counts == {s: counts_by_status(study)[s] for s in board.counts}
    for entry in board.entries:
        raw = study.trials[entry.trial.number]
        assert entry.trial.n_params == raw.user_attrs["n_params"]
        assert entry.trial.status == trial_status(raw)


def test_sort_ranks_by_the_column_and_filters_keep_ranks(tiny_study: TinyStudy) -> None:
    study = tiny_study.load()
    by_params = [
        e for e in leaderboard(study, sort="params").entries if e.trial.status == "trained"
    ]
    assert [e.trial.n_params for e in by_params] == sorted(e.trial.n_params for e in by_params)
    assert [e.rank for e in by_params] == [1, 2, 3, 4]
    ranks = {e.trial.number: e.rank for e in leaderboard(study).entries}
    rejected = leaderboard(study, state="rejected").entries
    assert rejected and all(e.trial.status == "rejected" for e in rejected)
    assert all("over the budget" in (e.trial.reason or "") and e.rank is None for e in rejected)
    top = leaderboard(study, top=2, state="trained").entries
    assert [e.trial.number for e in top] == expected_order(study)[:2]
    assert all(ranks[e.trial.number] == e.rank for e in top)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"sort": "speed"}, "sort"), ({"state": "done"}, "state"), ({"top": 0}, "top")],
)
def test_bad_sort_state_or_top_is_a_value_error(
    tiny_study: TinyStudy, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        leaderboard(tiny_study.load(), **kwargs)


def test_multi_objective_lists_the_feasible_pareto_set_first(tiny_study: TinyStudy) -> None:
    real = tiny_study.load()
    values = {
        t.number: [t.values[0], float(t.user_attrs["n_params"])]
        for t in real.trials
        if t.values is not None
    }
    study = copy_into_memory(real, ["maximize", "minimize"], values)
    study.set_user_attr("objectives", ["accuracy", "params"])
    board = leaderboard(study)
    assert board.multi_objective
    trained = [e.trial for e in board.entries if e.trial.status == "trained"]

    def dominated(row, by) -> bool:  # type: ignore[no-untyped-def]
        return (
            by.val_accuracy >= row.val_accuracy
            and by.n_params <= row.n_params
            and (by.val_accuracy, by.n_params) != (row.val_accuracy, row.n_params)
        )

    front = [row for row in trained if not any(dominated(row, other) for other in trained)]
    pareto = [e.trial for e in board.entries if e.trial.pareto]
    assert {r.number for r in pareto} == {r.number for r in front}
    assert [e.trial.pareto for e in board.entries] == [True] * len(pareto) + [False] * (
        len(board.entries) - len(pareto)
    )


def test_profile_figures_are_read_and_missing_ones_stay_none() -> None:
    study = optuna.create_study()
    profile = {"latency_ms_median": 1.5, "flops": 2000, "macs": 1000, "env": {"device": "cpu"}}
    user_attrs = {"status": "trained", "n_params": 10, "val_accuracy": 0.5, "profile": profile}
    study.add_trial(optuna.create_trial(value=0.5, user_attrs=user_attrs))
    study.add_trial(optuna.create_trial(value=0.4, user_attrs={"status": "trained", "flops": 7}))
    with_profile, without = read_trials(study)
    assert (with_profile.latency_ms, with_profile.flops, with_profile.macs) == (1.5, 2000, 1000)
    assert with_profile.infer_images_per_second is None
    assert with_profile.peak_train_memory_bytes is None
    assert without.profile is None and without.latency_ms is None and without.flops is None
    assert without.val_accuracy == 0.4  # from the trial value when the attribute is missing
    cells = leaderboard(study).entries[0].cells()
    assert cells["latency ms"] == "1.5" and cells["infer img/s"] == "-"


def test_results_cli_json_and_csv(
    tiny_study: TinyStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "board.csv"
    code, out, err = invoke(
        capsys, "results", "--storage", tiny_study.storage, "--study", tiny_study.name,
        "--json", "--csv", str(table),
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    study = tiny_study.load()
    numbers = [t["number"] for t in document["trials"]]
    assert numbers[:TRAINED_TRIALS] == expected_order(study)
    assert [t["number"] for t in document["trials"]] == [
        e.trial.number for e in leaderboard(study, top=20).entries
    ]
    first = document["trials"][0]
    assert first["config"] == study.trials[first["number"]].user_attrs["config"]
    with table.open() as handle:
        lines = list(csv.DictReader(handle))
    assert [int(line["number"]) for line in lines] == numbers
    assert [int(line["n_params"]) for line in lines] == [t["n_params"] for t in document["trials"]]
    assert lines[0]["rank"] == "1" and lines[-1]["status"] in ("rejected", "trained")


def test_results_cli_table_and_the_studies_of_a_storage(
    tiny_study: TinyStudy, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke(capsys, "results", "--storage", tiny_study.storage, "--study", "tiny")
    assert code == 0, err
    assert "tiny: accuracy, budget 30k" in out and "rejected" in out
    assert "not measured: FLOPs" in out, "unprofiled cost columns are named, not shown empty"
    code, out, err = invoke(capsys, "results", "--storage", tiny_study.storage, "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["studies"]
    counts = counts_by_status(tiny_study.load())
    assert entry["study"] == tiny_study.name
    assert (entry["trained"], entry["rejected"]) == (counts["trained"], counts["rejected"])
    assert entry["best_trial"] == expected_order(tiny_study.load())[0]
    assert [o.name for o in list_studies(tiny_study.storage)] == [tiny_study.name]


@pytest.mark.parametrize("command", ["results", "export", "report"])
def test_missing_storage_exits_2_with_one_line_and_creates_nothing(
    tiny_study: TinyStudy, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tiny_study.folder / "nope.db"
    code, _, err = invoke(capsys, command, "--storage", str(missing), "--study", tiny_study.name)
    assert code == 2
    assert err.strip().splitlines() == [
        f"archbench: error: storage: sqlite:///{missing} does not exist; "
        f"found: {tiny_study.folder / 'archbench.db'}"
    ]
    assert not missing.exists()


def test_missing_study_exits_2_listing_the_studies(tiny_study: TinyStudy) -> None:
    result = run_cli("report", "--storage", tiny_study.storage, "--study", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"archbench: error: study: no study 'nope' in {tiny_study.storage}; studies: tiny"
    ]
    with pytest.raises(ValueError, match="studies: tiny"):
        load_study(tiny_study.storage, "other")


def test_trials_measured_on_a_shared_gpu_are_named_in_the_table_json_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from archbench.results._report import _figure_specs

    storage = f"sqlite:///{tmp_path}/s.db"
    study = optuna.create_study(study_name="gpu", storage=storage, direction="maximize")
    for shared in (True, False):
        profile = {"latency_ms_median": 1.5, "shared_device": shared, "env": {"device": "cuda:0"}}
        attrs = {"status": "trained", "n_params": 10, "val_accuracy": 0.5, "profile": profile}
        study.add_trial(optuna.create_trial(value=0.5, user_attrs=attrs))
    code, out, err = invoke(capsys, "results", "--storage", storage, "--study", "gpu")
    assert code == 0, err
    assert "trial 0 measured on a shared GPU" in " ".join(out.split())
    code, out, err = invoke(capsys, "results", "--storage", storage, "--study", "gpu", "--json")
    assert {t["number"]: t["shared_device"] for t in json.loads(out)["trials"]} == {
        0: True,
        1: False,
    }
    captions = {
        name: caption for name, _, caption, _ in _figure_specs(study, read_trials(study), [])
    }
    assert "Trial 0 measured on a GPU that other trials used" in captions["accuracy_vs_latency"]


def _noisy_study(storage: str) -> optuna.Study:
    """Two trained trials on a busy machine: trial 0's latency and throughput are noisy."""
    study = optuna.create_study(study_name="busy", storage=storage, direction="maximize")
    for number, noisy in enumerate(
        (
            {"latency_ms_median": "load average 9.0 > 2 cores"},
            {},
        )
    ):
        profile = {
            "latency_ms_median": 1.5 + number,
            "latency_ms_iqr": 0.1,
            "latency_timed_blocks": 5,
            "infer_images_per_second": 100.0,
            "noisy": noisy,
            "env": {"device": "cpu"},
        }
        attrs = {"status": "trained", "n_params": 10, "val_accuracy": 0.5 + number / 10}
        study.add_trial(optuna.create_trial(value=0.5, user_attrs=attrs | {"profile": profile}))
    return study


def test_noisy_timings_are_flagged_in_the_table_json_csv_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from archbench.results._report import _figure_specs

    storage = f"sqlite:///{tmp_path}/s.db"
    study = _noisy_study(storage)
    code, out, err = invoke(capsys, "results", "--storage", storage, "--study", "busy")
    assert code == 0, err
    assert "~1.5" in out and "~ = noisy timing (trial 0)" in " ".join(out.split())
    table = tmp_path / "board.csv"
    code, out, err = invoke(
        capsys, "results", "--storage", storage, "--study", "busy", "--json", "--csv", str(table)
    )
    noisy = {t["number"]: t["noisy"] for t in json.loads(out)["trials"]}
    assert noisy == {0: "latency_ms: load average 9.0 > 2 cores", 1: None}
    with table.open() as handle:
        assert {line["noisy"] for line in csv.DictReader(handle)} == {
            "latency_ms: load average 9.0 > 2 cores",
            "",
        }
    specs = {
        name: (caption, draw)
        for name, _, caption, draw in _figure_specs(study, read_trials(study), [])
    }
    caption, draw = specs["accuracy_vs_latency"]
    assert "Trial 0 (crossed out): noisy timing" in caption
    assert "noisy" not in specs["accuracy_vs_throughput"][0]
    import matplotlib.figure

    labels: list[str] = []
    original = matplotlib.figure.Figure.savefig

    def capture(figure: matplotlib.figure.Figure, *args: object, **kwargs: object) -> None:
        labels.extend(figure.axes[0].get_legend_handles_labels()[1])
        original(figure, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.figure.Figure, "savefig", capture)
        draw(tmp_path / "latency.png")
    assert "noisy timing (1)" in labels and "Pareto front (1 of 2 points noisy)" in labels


def test_json_and_csv_hold_every_trial_unless_top_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    study = optuna.create_study(study_name="many", storage=storage, direction="maximize")
    for number in range(25):
        attrs = {"status": "trained", "n_params": 10 + number, "val_accuracy": number / 100}
        study.add_trial(optuna.create_trial(value=number / 100, user_attrs=attrs))
    base = ("results", "--storage", storage, "--study", "many")
    code, out, _ = invoke(capsys, *base, "--json")
    assert len(json.loads(out)["trials"]) == 25
    table = tmp_path / "all.csv"
    invoke(capsys, *base, "--csv", str(table))
    with table.open() as handle:
        assert len(list(csv.DictReader(handle))) == 25
    code, out, _ = invoke(capsys, *base, "--top", "3", "--json")
    assert len(json.loads(out)["trials"]) == 3
    code, out, _ = invoke(capsys, *base)
    assert "20 of 25 lines; --top N for more, --json or --csv for all" in " ".join(out.split())
