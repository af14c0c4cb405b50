"""Recipes: the shipped ones load and round-trip; bad values fail naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from archbench.data import Augment
from archbench.train import (
    RECIPES,
    TrainRecipe,
    get_recipe,
    list_recipes,
    load_recipe,
    resolve_recipe,
)


def test_shipped_recipes_are_the_four_named() -> None:
    assert list_recipes() == ["proxy", "sgd_step", "adamw_onecycle", "sgd_cosine"]


@pytest.mark.parametrize("name", list(RECIPES))
def test_shipped_recipe_round_trips_through_a_yaml_file(name: str, tmp_path: Path) -> None:
    recipe = get_recipe(name)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe.to_dict()))
    assert load_recipe(path) == recipe
    assert resolve_recipe(str(path)) == recipe
    assert resolve_recipe(name) == recipe
    assert TrainRecipe.from_dict(recipe.to_dict()) == recipe


def test_shipped_recipes_say_what_the_brief_says() -> None:
    step = get_recipe("sgd_step")
    assert (step.optimizer, step.lr, step.momentum, step.weight_decay) == ("sgd", 0.01, 0.9, 5e-4)
    assert (step.schedule, step.milestones, step.gamma, step.epochs) == ("step", (50, 75), 0.1, 100)
    assert (step.batch_size, step.label_smoothing, step.augmentation, step.cutout) == (
        256,
        0.1,
        None,
        0.5,
    )
    onecycle = get_recipe("adamw_onecycle")
    assert (onecycle.optimizer, onecycle.schedule, onecycle.weight_decay) == (
        "adamw",
        "onecycle",
        5e-4,
    )
    assert (onecycle.epochs, onecycle.batch_size, onecycle.label_smoothing) == (65, 128, 0.1)
    cosine = get_recipe("sgd_cosine")
    assert (cosine.optimizer, cosine.lr, cosine.schedule, cosine.epochs) == (
        "sgd_nesterov",
        0.1,
        "cosine",
        200,
    )
    assert (cosine.augmentation, cosine.cutout) == (None, 0.5)
    assert (cosine.warmup_epochs, cosine.grad_clip) == (5, 2.0)
    assert get_recipe("proxy").epochs == 3


@pytest.mark.parametrize(
    ("changes", "field", "hint"),
    [
        ({"optimizer": "adam"}, "optimizer", "'adamw'"),
        ({"lr": 0}, "lr", "positive"),
        ({"lr": "fast"}, "lr", "number"),
        ({"momentum": 1.0}, "momentum", "[0, 1)"),
        ({"optimizer": "sgd_nesterov", "momentum": 0.0}, "momentum", "optimizer 'sgd'"),
        ({"batch_size": 0}, "batch_size", "[1, 65536]"),
        ({"epochs": 2.5}, "epochs", "integer"),
        ({"schedule": "linear"}, "schedule", "'onecycle'"),
        ({"schedule": "step"}, "milestones", "at least one"),
        ({"schedule": "cosine", "milestones": [10]}, "milestones", "only used by schedule 'step'"),
        ({"schedule": "step", "milestones": [20, 10]}, "milestones", "increasing"),
        ({"gamma": 0}, "gamma", "(0, 1]"),
        ({"schedule": "onecycle", "warmup_epochs": 1}, "warmup_epochs", "set 0"),
        ({"epochs": 3, "warmup_epochs": 5}, "warmup_epochs", "[0, epochs=3]"),
        ({"label_smoothing": 1.0}, "label_smoothing", "[0, 1)"),
        ({"augmentation": "none"}, "augmentation", "expected a mapping"),
        ({"augmentation": {"blur": 3}}, "augmentation", "allowed keys: crop_padding, cutout, flip"),
        ({"augmentation": {"cutout": -1}}, "cutout", ">= 0"),
        ({"cutout": 1.0}, "cutout", "[0, 1)"),
        ({"cutout": 0.5, "augmentation": {"flip": False}}, "cutout", "in pixels instead"),
        ({"amp": "fp8"}, "amp", "'bf16'"),
        ({"grad_clip": 0}, "grad_clip", "positive"),
        ({"early_stopping": 0}, "early_stopping", ">= 1"),
        ({"val_fraction": 0}, "val_fraction", "(0, 1)"),
        ({"seed": -1}, "seed", "[0, 2**63)"),
        ({"learning_rate": 0.1}, "unknown key 'learning_rate'", "allowed keys"),
    ],
)
def test_bad_values_name_the_field_and_what_is_allowed(
    changes: dict[str, Any], field: str, hint: str
) -> None:
    with pytest.raises(ValueError) as error:
        TrainRecipe.from_dict(changes)
    message = str(error.value)
    assert field in message and hint in message, message


def test_augmentation_reads_null_as_the_dataset_default_and_mappings() -> None:
    assert TrainRecipe.from_dict({"augmentation": None}).augmentation is None
    recipe = TrainRecipe.from_dict({"augmentation": {"crop_padding": 2, "flip": False}})
    assert recipe.augmentation == Augment(crop_padding=2, flip=False, cutout=0)
    assert recipe.to_dict()["augmentation"] == {"crop_padding": 2, "flip": False, "cutout": 0}


def test_exported_config_carries_its_recipe(tmp_path: Path) -> None:
    exported = tmp_path / "trial.yaml"
    exported.write_text(yaml.safe_dump({"model": {"family": "vgg"}, "recipe": {"epochs": 7}}))
    assert load_recipe(exported) == TrainRecipe(epochs=7)
    by_name = tmp_path / "named.yaml"
    by_name.write_text(yaml.safe_dump({"model": {"family": "vgg"}, "recipe": "sgd_cosine"}))
    assert load_recipe(by_name) == get_recipe("sgd_cosine")


def test_unknown_names_and_bad_files_say_what_exists(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="recipes: proxy, sgd_step, adamw_onecycle, sgd_cosine"):
        get_recipe("fast")
    with pytest.raises(ValueError, match="neither a recipe"):
        resolve_recipe("fast")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: -1\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: lr: must be a positive number"):
        load_recipe(bad)


def test_the_full_training_recipe_follows_the_data_it_meets() -> None:
    """No flips on digits, Cutout at half the side: 14 pixels on 28x28 digits, 16 on CIFAR."""
    cosine = get_recipe("sgd_cosine")
    assert cosine.augment_for("mnist5k", 28) == Augment(crop_padding=2, flip=False, cutout=14)
    assert cosine.augment_for("cifar10", 32) == Augment(crop_padding=4, flip=True, cutout=16)
    assert get_recipe("proxy").augment_for("mnist5k", 28) == Augment(crop_padding=2, flip=False)
    explicit = TrainRecipe(augmentation=Augment(crop_padding=0, flip=True, cutout=3))
    assert explicit.augment_for("mnist5k", 28) == explicit.augmentation


def test_a_shorter_run_compresses_the_whole_schedule() -> None:
    cosine = get_recipe("sgd_cosine").with_epochs(3)
    assert (cosine.epochs, cosine.warmup_epochs) == (3, pytest.approx(0.075))
    step = get_recipe("sgd_step").with_epochs(10)
    assert (step.epochs, step.milestones) == (10, (5, 8))
    assert get_recipe("sgd_step").with_epochs(1).milestones == (1,)
    assert get_recipe("proxy").with_epochs(3) is get_recipe("proxy")


def test_the_batch_shrinks_until_an_epoch_has_enough_steps() -> None:
    """CIFAR keeps batch 128 at LR 0.1; mnist5k's 3,600 images halve it twice, the LR by sqrt(4)."""
    cosine = get_recipe("sgd_cosine")
    assert cosine.for_train_images(45_000) is cosine
    small = cosine.for_train_images(3_600)
    assert (small.batch_size, small.lr) == (32, pytest.approx(0.05))
    assert 3_600 // small.batch_size >= 100 > 3_600 // 64
    tiny = cosine.for_train_images(500)  # never below the proxy's batch
    assert (tiny.batch_size, tiny.lr) == (32, pytest.approx(0.05))
    assert small.for_train_images(3_600) is small
