"""Export on a real study: the card, exact params, and the next commands accept the file."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

from archbench.data import dataset_info
from archbench.models import config_from_dict, count_params, resolve_config
from archbench.results import CHECK_EPOCHS, export_trials, leaderboard, select_trials
from archbench.train import get_recipe, load_recipe
from tests.conftest import invoke, run_cli
from tests.results.conftest import TinyStudy


def test_export_writes_the_card_of_the_top_trials(tiny_study: TinyStudy, tmp_path: Path) -> None:
    study = tiny_study.load()
    exported = export_trials(study, storage_url=tiny_study.storage, out_dir=tmp_path, top=2)
    leaders = [e.trial.number for e in leaderboard(study, state="trained").entries[:2]]
    assert [item.trial for item in exported] == leaders
    for item in exported:
        card = yaml.safe_load(item.path.read_text())
        record = study.trials[item.trial].user_attrs
        assert card["model"] == record["config"]
        assert card["n_params"] == count_params(config_from_dict(record["config"]))
        assert card["n_params"] == record["n_params"] == item.n_params
        assert card["flops"] == 2 * card["macs"] > 0
        assert card["metrics"]["val_accuracy"] == record["val_accuracy"]
        assert card["metrics"]["history"] == record["metrics"]
        # Fitted to mnist5k's 3,600 training images: 112 steps an epoch at batch 32, not 28.
        fitted = get_recipe("sgd_cosine").for_train_images(3600)
        assert (fitted.batch_size, fitted.lr) == (32, pytest.approx(0.05))
        assert card["recipe"] == fitted.to_dict()
        assert card["provenance"]["study"] == tiny_study.name
        assert card["provenance"]["trial"] == item.trial
        assert card["provenance"]["storage"] == tiny_study.storage
        assert resolve_config(str(item.path)).to_dict() == record["config"]
        assert load_recipe(item.path) == fitted
        assert item.command == f"archbench train {item.path} --dataset mnist5k"
        assert item.check_command == f"{item.command} --epochs {CHECK_EPOCHS}"
        assert item.epochs == 200
        # mnist5k's training split less the recipe's validation share, at the proxy's speed.
        speed = max(epoch["images_per_second"] for epoch in record["metrics"])
        train_images = dataset_info("mnist5k").train_size * 0.9
        assert item.epoch_seconds == pytest.approx(train_images / speed)
        header = item.path.read_text().splitlines()[1:3]
        assert header[0].startswith(f"# Check it first ({CHECK_EPOCHS} epochs, about ")
        assert header[0].endswith(item.check_command)
        assert header[1].startswith("# Train it (200 epochs, about ")
        assert header[1].endswith(item.command)


def test_export_refuses_to_overwrite_without_force(tiny_study: TinyStudy, tmp_path: Path) -> None:
    study = tiny_study.load()
    (first,) = export_trials(study, storage_url=tiny_study.storage, out_dir=tmp_path, top=1)
    first.path.write_text("# edited by hand\n")
    with pytest.raises(ValueError, match="exists; pass --force"):
        export_trials(study, storage_url=tiny_study.storage, out_dir=tmp_path, top=1)
    assert first.path.read_text() == "# edited by hand\n"
    export_trials(study, storage_url=tiny_study.storage, out_dir=tmp_path, top=1, force=True)
    assert "model" in yaml.safe_load(first.path.read_text())


def test_selection_rules(tiny_study: TinyStudy) -> None:
    study = tiny_study.load()
    rejected = next(e.trial.number for e in leaderboard(study, state="rejected").entries)
    with pytest.raises(ValueError, match=f"trial {rejected} is rejected"):
        select_trials(study, trial=rejected)
    with pytest.raises(ValueError, match="choose one of"):
        select_trials(study, top=2, pareto=True)
    best = leaderboard(study).entries[0].trial.number
    assert [row.number for row in select_trials(study, pareto=True)][0] == best
    assert len(select_trials(study)) == 3


def test_a_record_that_does_not_match_its_config_is_refused(
    tiny_study: TinyStudy, tmp_path: Path
) -> None:
    real = tiny_study.load()
    best = real.trials[leaderboard(real).entries[0].trial.number]
    study = optuna.create_study(direction="maximize")
    attrs = {**best.user_attrs, "n_params": best.user_attrs["n_params"] + 1}
    study.add_trial(optuna.create_trial(value=best.value, user_attrs=attrs))
    with pytest.raises(ValueError, match="differs from the config"):
        export_trials(study, storage_url="memory", out_dir=tmp_path, top=1)
    assert not list(tmp_path.iterdir())


def test_a_noisy_timing_is_named_by_export(
    tiny_study: TinyStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tiny_study.load()
    best = real.trials[leaderboard(real).entries[0].trial.number]
    storage = f"sqlite:///{tmp_path}/busy.db"
    study = optuna.create_study(study_name="busy", storage=storage, direction="maximize")
    for key, value in real.user_attrs.items():
        study.set_user_attr(key, value)
    profile = {
        "latency_ms_median": 3.0,
        "noisy": {"latency_ms_median": "load average 9.0 > 2 cores"},
    }
    attrs = {**best.user_attrs, "profile": profile}
    study.add_trial(optuna.create_trial(value=best.value, user_attrs=attrs))
    (item,) = export_trials(study, storage_url=storage, out_dir=tmp_path / "a", top=1)
    assert item.noisy == {"latency_ms": "load average 9.0 > 2 cores"}
    assert yaml.safe_load(item.path.read_text())["profile"]["noisy"] == profile["noisy"]
    code, out, err = invoke(
        capsys, "export", "--storage", storage, "--top", "1", "--out", str(tmp_path / "b")
    )
    assert code == 0, err
    assert "noisy timing: latency_ms (load average 9.0 > 2 cores)" in out


def test_exported_file_counts_the_same_and_refuses_overwrite(
    tiny_study: TinyStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    args = ("export", "--storage", tiny_study.storage, "--top", "1", "--out", str(out))
    code, printed, err = invoke(capsys, *args)
    assert code == 0, err
    (path,) = out.glob("*.yaml")
    assert f"check first ({CHECK_EPOCHS} epochs, about " in printed
    assert f"archbench train {path} --dataset mnist5k --epochs {CHECK_EPOCHS}\n" in printed
    assert "train (200 epochs, about " in printed
    assert f"archbench train {path} --dataset mnist5k\n" in printed
    code, counted, err = invoke(capsys, "count", str(path), "--json")
    assert code == 0, err
    card = yaml.safe_load(path.read_text())
    assert json.loads(counted)["params"] == card["n_params"]
    assert json.loads(counted)["flops"] == card["flops"]
    code, _, err = invoke(capsys, *args)
    assert code == 2
    assert err.strip().splitlines() == [
        f"archbench: error: export: {path} exists; pass --force to overwrite"
    ]


@pytest.mark.slow
def test_exported_file_trains_for_one_epoch_with_its_recipe(
    tiny_study: TinyStudy, tmp_path: Path
) -> None:
    (item,) = export_trials(
        tiny_study.load(), storage_url=tiny_study.storage, out_dir=tmp_path, top=1
    )
    result = run_cli(
        "train", str(item.path), "--dataset", "mnist5k", "--epochs", "1",
        "--out", str(tmp_path / "run"), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["params"] == item.n_params
    assert summary["epochs_trained"] == 1
    assert summary["recipe"] == load_recipe(item.path).with_epochs(1).to_dict()
    assert 0.0 <= summary["test_accuracy"] <= 1.0


@pytest.mark.slow
def test_exported_recipe_trains_the_top_configs_at_least_as_well_as_their_proxy(
    tiny_study: TinyStudy, tmp_path: Path
) -> None:
    """The end of the main path: each exported winner, trained with its own recipe for the
    short check that ``export`` prints, reaches the accuracy its proxy reached in the search."""
    exported = export_trials(
        tiny_study.load(), storage_url=tiny_study.storage, out_dir=tmp_path, top=3
    )
    assert len(exported) == 3
    for item in exported:
        result = run_cli(
            *item.check_command.split()[1:], "--out", str(tmp_path / f"run-{item.trial}"),
            "--json", cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["epochs_trained"] == CHECK_EPOCHS
        assert item.val_accuracy is not None
        assert summary["best_val_accuracy"] >= item.val_accuracy, (item.trial, summary)
