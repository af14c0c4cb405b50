"""``archbench train`` and ``predict``: train a config with a recipe, then use its checkpoint.

A run folder holds everything needed to read, repeat and reuse the run: ``config.yaml`` (the
adapted model config and the recipe, in the exported-config layout that ``train``, ``count`` and
``predict`` accept), ``checkpoint.pt``, ``metrics.csv``, ``summary.json`` and two PNG plots.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from archbench.cli._app import app
from archbench.cli._common import (
    DATA_DIR_OPTION,
    DEVICE_OPTION,
    JSON_OPTION,
    console,
    fail,
    print_json,
    user_errors,
)

if TYPE_CHECKING:
    from archbench.data import Dataset
    from archbench.models import ModelConfig
    from archbench.train import Evaluation, TrainRecipe, TrainResult

Report = Callable[[int, dict[str, float]], None]

DEFAULT_RECIPE = "proxy"
RUNS_DIR = Path("runs")
RUN_FILES = (
    "config.yaml",
    "checkpoint.pt",
    "metrics.csv",
    "summary.json",
    "curves.png",
    "confusion.png",
)

DATASET_OPTION = typer.Option(
    "mnist5k",
    "--dataset",
    help="A data set name (archbench data list), or an image folder or its .tar/.tar.gz/.zip.",
)
RUN_DIR_OPTION = typer.Option(
    None, "--out", help="Run folder (default: runs/<config>-<dataset>[-<epochs>ep])."
)
CHECKPOINT_OPTION = typer.Option(..., "--checkpoint", help="A checkpoint.pt from a run.")
PREDICTIONS_OPTION = typer.Option(Path("predictions.csv"), "--out", help="CSV file to write.")


@app.command("train")
def train(
    config: str = typer.Argument(
        ..., help="A preset name, or a config / exported YAML file (its recipe is used)."
    ),
    recipe_spec: str | None = typer.Option(
        None,
        "--recipe",
        help="A recipe (proxy, sgd_step, adamw_onecycle, sgd_cosine) or a recipe YAML/JSON file; "
        f"default: the config file's recipe, else {DEFAULT_RECIPE}.",
    ),
    dataset: str = DATASET_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    epochs: int | None = typer.Option(
        None,
        "--epochs",
        help="Override the recipe's epochs; its schedule, warm-up included, is compressed to fit.",
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Override the batch size."),
    lr: float | None = typer.Option(None, "--lr", help="Override the learning rate."),
    seed: int | None = typer.Option(None, "--seed", help="Override the recipe's seed."),
    device: str = DEVICE_OPTION,
    out: Path | None = RUN_DIR_OPTION,
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its checkpoint."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Train a config on a data set; writes checkpoint, metrics, summary and plots to a folder."""
    from archbench.data import dataset_label, load_dataset, split_train_val
    from archbench.hwprofile import resolve_device
    from archbench.models import resolve_config
    from archbench.train import CHECKPOINT_FILE, NonFiniteLossError, evaluate, train_model

    with user_errors():
        cfg = resolve_config(config)
        recipe = _resolve_recipe(config, recipe_spec)
        if epochs is not None:
            recipe = recipe.with_epochs(epochs)
        overrides: dict[str, Any] = {"batch_size": batch_size, "lr": lr, "seed": seed}
        recipe = dataclasses.replace(
            recipe, **{k: v for k, v in overrides.items() if v is not None}
        )
        train_split = load_dataset(dataset, "train", data_dir)
        test_data = load_dataset(dataset, "test", data_dir)
        cfg = _with_data(cfg, train_split)
        train_data, val_data = split_train_val(train_split, recipe.val_fraction, recipe.seed)
        run_device = resolve_device(device)
    out_dir = out if out is not None else default_run_dir(config, dataset, epochs)
    if (out_dir / CHECKPOINT_FILE).exists() and not resume:
        fail(f"{out_dir} holds a run already; pass --resume to continue it, or another --out")
    with _epoch_progress(
        json_output, recipe.epochs, f"{Path(config).stem} on {dataset_label(dataset)}"
    ) as report:
        try:
            with user_errors():
                result = train_model(
                    cfg,
                    recipe,
                    train_data=train_data,
                    val_data=val_data,
                    device=run_device,
                    report=report,
                    out_dir=out_dir,
                    resume=resume,
                )
        except NonFiniteLossError as exc:
            fail(str(exc))
    test = evaluate(result.model, test_data, run_device)
    summary = _write_run(config, dataset, cfg, recipe, result, test, run_device, out_dir)
    if json_output:
        print_json(summary)
        return
    console.print(
        f"{summary['config']} on {dataset}: test accuracy {test.accuracy:.2%}, "
        f"final val {result.final_val_accuracy:.2%}, best val {result.best_val_accuracy:.2%} "
        f"(epoch {summary['best_epoch']}), {result.seconds:.1f} s, {summary['params']:,} params"
        + (" (stopped early)" if result.stopped_early else "")
    )
    console.print(f"wrote {out_dir}/: {', '.join(RUN_FILES)}")


def _write_run(
    config: str,
    dataset: str,
    cfg: ModelConfig,
    recipe: TrainRecipe,
    result: TrainResult,
    test: Evaluation,
    run_device: Any,
    out_dir: Path,
) -> dict[str, Any]:
    """Writes the run folder's files but the checkpoint; returns its summary (summary.json)."""
    from archbench._dataclass_io import write_mapping
    from archbench.hwprofile import environment_stamp
    from archbench.models import count_params
    from archbench.train import plot_confusion, plot_history

    write_mapping({"model": cfg.to_dict(), "recipe": recipe.to_dict()}, out_dir / "config.yaml")
    _write_metrics(result.history, out_dir / "metrics.csv")
    plot_history(result.history, out_dir / "curves.png")
    plot_confusion(test.confusion, test.classes, out_dir / "confusion.png")
    best = max(result.history, key=lambda m: m["val_accuracy"])
    summary = {
        "config": config,
        "dataset": dataset,
        "params": count_params(cfg),
        "epochs_trained": result.epochs_trained,
        "stopped_early": result.stopped_early,
        "final_val_accuracy": result.final_val_accuracy,
        "best_val_accuracy": result.best_val_accuracy,
        "best_epoch": best["epoch"],
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "test_per_class_accuracy": test.per_class_accuracy,
        "seconds": result.seconds,
        "compile_seconds": result.compile_seconds,
        "environment": {
            **environment_stamp(
                run_device,
                batch_size=recipe.batch_size,
                amp=result.settings["amp"],
                channels_last=result.settings["memory_format"] == "channels_last",
                compile=recipe.compile,
                optimizer=recipe.optimizer,
                level="train",
            ),
            # the flags training ran with (restored afterwards)
            "cudnn_benchmark": result.settings["cudnn_benchmark"],
            "tf32_matmul": result.settings["tf32_matmul"],
        },
        "out_dir": str(out_dir),
        "model": cfg.to_dict(),
        "recipe": recipe.to_dict(),
    }
    write_mapping(summary, out_dir / "summary.json")
    return summary


@app.command("predict")
def predict(
    config: str = typer.Argument(..., help="A preset name or a config file (a run's config.yaml)."),
    checkpoint: Path = CHECKPOINT_OPTION,
    dataset: str = DATASET_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    split: str = typer.Option("test", "--split", help="train or test."),
    device: str = DEVICE_OPTION,
    out: Path = PREDICTIONS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Predict every image of a split with a trained checkpoint; writes one CSV row per image."""
    from archbench.data import load_dataset
    from archbench.hwprofile import resolve_device
    from archbench.models import build_model, resolve_config
    from archbench.train import load_checkpoint, predict as predict_probabilities

    with user_errors():
        cfg = resolve_config(config)
        data = load_dataset(dataset, split, data_dir)  # type: ignore[arg-type]  # it checks split
        cfg = _with_data(cfg, data)
        state = load_checkpoint(checkpoint)
        run_device = resolve_device(device)
    model = build_model(cfg)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        fail(f"{checkpoint}: its weights do not fit {config} on {dataset} ({_first_line(exc)})")
    probabilities = predict_probabilities(model.to(run_device), data, run_device)
    confidence, predictions = probabilities.max(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", "prediction", "class", "confidence"])
        for index, (label, guess, score) in enumerate(
            zip(data.labels.tolist(), predictions.tolist(), confidence.tolist())
        ):
            writer.writerow([index, label, guess, data.classes[guess], f"{score:.6f}"])
    accuracy = (predictions == data.labels).double().mean().item()
    if json_output:
        print_json({"out": str(out), "images": len(data), "accuracy": accuracy})
        return
    console.print(f"wrote {len(data)} predictions to {out}; accuracy {accuracy:.2%}")


def default_run_dir(config: str, dataset: str, epochs: int | None) -> Path:
    """``runs/<config>-<dataset>``, with ``-<E>ep`` for a run whose epochs were overridden.

    A short check (``--epochs 3``) and the full run of the same file then keep their own
    folders, and the full run does not find the check's checkpoint and refuse to start.
    """
    from archbench.data import dataset_label

    name = f"{Path(config).stem}-{dataset_label(dataset)}"
    return RUNS_DIR / (f"{name}-{epochs}ep" if epochs is not None else name)


def _resolve_recipe(config: str, recipe_spec: str | None) -> TrainRecipe:
    """``--recipe``, else the recipe an exported config file carries, else the default."""
    from archbench._dataclass_io import read_mapping
    from archbench.models import PRESETS
    from archbench.train import load_recipe, resolve_recipe

    if recipe_spec is not None:
        return resolve_recipe(recipe_spec)
    if config not in PRESETS and "recipe" in read_mapping(config):
        return load_recipe(config)
    return resolve_recipe(DEFAULT_RECIPE)


def _with_data(cfg: ModelConfig, data: Dataset) -> ModelConfig:
    return cfg.with_data(
        num_classes=data.num_classes, in_channels=data.in_channels, input_size=data.input_size
    )


def _write_metrics(history: list[dict[str, float]], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@contextmanager
def _epoch_progress(quiet: bool, epochs: int, title: str) -> Iterator[Report]:
    """A rich progress bar over epochs that also prints each epoch's metrics; silent if quiet.

    Yields:
        the ``report`` callback for ``train_model``.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[metrics]}"),
        console=console,
        disable=quiet,
    )
    task = progress.add_task(title, total=epochs, metrics="")

    def report(epoch: int, metrics: dict[str, float]) -> None:
        line = (
            f"loss {metrics['train_loss']:.4f}  acc {metrics['train_accuracy']:.2%}  "
            f"val loss {metrics['val_loss']:.4f}  val acc {metrics['val_accuracy']:.2%}"
        )
        progress.update(task, completed=epoch, metrics=line)
        if not quiet:
            progress.console.print(
                f"epoch {epoch:>3}  {line}  {metrics['seconds']:.1f} s  "
                f"{metrics['images_per_second']:,.0f} img/s"
            )

    with progress:
        yield report
