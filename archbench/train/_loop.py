"""The training loop: one obvious path from a config and a recipe to a trained model.

Data stay on the device and are augmented there per batch (``archbench.data.DeviceLoader``, the
airbench approach), so the loop is a plain sequence of forward, backward and optimizer steps.
It reports each epoch through a ``report(epoch, metrics)`` callable and asks ``should_stop()``
afterwards; the search backends plug their pruners in there, so this module imports neither
optuna nor ray (Syne Tune's reporter pattern).
"""

from __future__ import annotations

import bisect
import contextlib
import math
import random
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from archbench.data import DeviceLoader
from archbench.models import build_model
from archbench.train._checkpoint import (
    CHECKPOINT_FILE,
    capture_rng_state,
    load_checkpoint,
    load_scaler_state,
    restore_rng_state,
    save_checkpoint,
)
from archbench.train._evaluate import evaluate_loader
from archbench.train._recipe import TrainRecipe

if TYPE_CHECKING:
    from archbench.data import Dataset
    from archbench.models import ModelConfig

Report = Callable[[int, dict[str, float]], None]

# Checking a loss for NaN reads it back to the host, which waits for the GPU; on CPU that costs
# nothing, elsewhere the check runs every this many steps (and at the end of each epoch). The
# failing step is still named exactly, because every step's loss is kept.
_ACCELERATOR_CHECK_INTERVAL = 50


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the learning rate is usually too high.

    Attributes:
        epoch: the epoch (from 1) of the first non-finite loss.
        step: the step (from 1) within that epoch.
    """

    def __init__(self, epoch: int, step: int, loss: float) -> None:
        super().__init__(
            f"training loss is {loss} at epoch {epoch}, step {step}; "
            "lower the learning rate or set grad_clip"
        )
        self.epoch = epoch
        self.step = step


@dataclass(frozen=True)
class TrainResult:
    """What a run produced.

    Attributes:
        model: the trained model (final weights), on the training device.
        history: one metrics dict per epoch (``epoch``, ``train_loss``, ``train_accuracy``,
            ``val_loss``, ``val_accuracy``, ``seconds``, ``images_per_second``).
        epochs_trained: epochs completed, counting those before a resume.
        best_val_accuracy: the highest validation accuracy of any epoch (fraction).
        final_val_accuracy: the validation accuracy after the last epoch (fraction).
        seconds: wall time of all epochs, training and validation, counting those before a resume.
        stopped_early: ``should_stop()`` or the early-stopping patience ended the run.
        settings: what the recipe's ``auto`` fields became on this device, and the CUDA flags
            the run trained with (``amp``, ``memory_format``, ``compile``, ``cudnn_benchmark``,
            ``tf32_matmul``), for the environment stamp.
        compile_seconds: the first compiled step's seconds in this process (compilation), or
            None without ``compile``.
    """

    model: nn.Module
    history: list[dict[str, float]]
    epochs_trained: int
    best_val_accuracy: float
    final_val_accuracy: float
    seconds: float
    stopped_early: bool
    settings: dict[str, Any] = field(default_factory=dict)
    compile_seconds: float | None = None


def train_model(
    cfg: ModelConfig,
    recipe: TrainRecipe,
    *,
    train_data: Dataset,
    val_data: Dataset,
    device: str | torch.device = "cpu",
    report: Report | None = None,
    should_stop: Callable[[], bool] | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
) -> TrainResult:
    """Builds ``cfg`` and trains it with ``recipe``, validating after every epoch.

    Args:
        cfg: the architecture; its data shape must match ``train_data`` (``cfg.with_data``).
        recipe: the hyperparameters; ``recipe.seed`` seeds everything.
        train_data: the images to train on.
        val_data: the held-out images scored after each epoch.
        device: where to train, e.g. ``cpu`` or ``cuda``.
        report: called after each epoch with the epoch (from 1) and its metrics.
        should_stop: asked after each report; True ends the run (``stopped_early``).
        out_dir: where ``checkpoint.pt`` is written after every epoch; None writes nothing. An
            epoch is checkpointed after ``report`` and ``should_stop``, so the file knows
            whether the run stopped, and a crash inside ``report`` repeats that epoch on resume.
        resume: continue from ``out_dir/checkpoint.pt`` when it exists. On the same device the
            result equals an uninterrupted run's; a finished or stopped run is returned as is.

    Raises:
        ValueError: the data do not fit the config, or the checkpoint belongs to another run.
        NonFiniteLossError: the training loss became NaN or infinite.
    """
    device = torch.device(device)
    _check_data(cfg, train_data, val_data)
    if resume and out_dir is None:
        raise ValueError("resume: needs out_dir, the folder holding checkpoint.pt")
    checkpoint_file = Path(out_dir) / CHECKPOINT_FILE if out_dir is not None else None

    _seed_everything(recipe.seed)
    amp_dtype = _amp_dtype(recipe, device)
    channels_last = uses_channels_last(recipe.memory_format, device)
    model = build_model(cfg).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    train_loader = DeviceLoader(
        train_data,
        recipe.batch_size,
        device=device,
        train=True,
        augment=recipe.augment_for(train_data.name, train_data.images.shape[-1]),
        seed=recipe.seed,
        channels_last=channels_last,
    )
    # Evaluation at the training batch size: memory is known to fit, and the result is the same.
    val_loader = DeviceLoader(
        val_data, recipe.batch_size, device=device, train=False, channels_last=channels_last
    )
    optimizer = _make_optimizer(model, recipe)
    trainer = _Trainer(
        model=model,
        optimizer=optimizer,
        scheduler=_make_scheduler(optimizer, recipe, steps_per_epoch=len(train_loader)),
        scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16),
        criterion=nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
        grad_clip=recipe.grad_clip,
        amp_dtype=amp_dtype,
        forward=torch.compile(model) if recipe.compile else model,
    )
    settings: dict[str, Any] = {
        "amp": _AMP_NAMES[amp_dtype] if amp_dtype is not None else None,
        "memory_format": "channels_last" if channels_last else "contiguous",
        "compile": recipe.compile,
    }

    history: list[dict[str, float]] = []
    stopped_early = False
    if resume and checkpoint_file is not None and checkpoint_file.exists():
        state = load_checkpoint(checkpoint_file)
        _check_same_run(state, cfg, recipe, checkpoint_file)
        trainer.load_state_dict(state)
        restore_rng_state(state["rng"], device)
        history = state["history"]
        stopped_early = state["stopped_early"]

    with cuda_training_flags(device) as flags:
        settings.update(flags)
        stopped_early = _train_epochs(
            trainer,
            cfg,
            recipe,
            loaders=(train_loader, val_loader),
            history=history,
            stopped_early=stopped_early,
            report=report,
            should_stop=should_stop,
            checkpoint_file=checkpoint_file,
        )

    return TrainResult(
        model=model,
        history=history,
        epochs_trained=len(history),
        best_val_accuracy=max(m["val_accuracy"] for m in history),
        final_val_accuracy=history[-1]["val_accuracy"],
        seconds=sum(m["seconds"] for m in history),
        stopped_early=stopped_early,
        settings=settings,
        compile_seconds=trainer.compile_seconds,
    )


def _train_epochs(
    trainer: _Trainer,
    cfg: ModelConfig,
    recipe: TrainRecipe,
    *,
    loaders: tuple[DeviceLoader, DeviceLoader],
    history: list[dict[str, float]],
    stopped_early: bool,
    report: Report | None,
    should_stop: Callable[[], bool] | None,
    checkpoint_file: Path | None,
) -> bool:
    """Trains the remaining epochs into ``history``; returns whether the run stopped early."""
    train_loader, val_loader = loaders
    device = train_loader.device
    while len(history) < recipe.epochs and not stopped_early:
        epoch = len(history) + 1
        started = time.perf_counter()
        train_loader.set_epoch(epoch - 1)
        compiled_before = trainer.compile_seconds is not None
        train_loss, train_accuracy, images = _train_epoch(trainer, train_loader, device, epoch)
        train_seconds = time.perf_counter() - started
        val_loss, confusion = evaluate_loader(trainer.model, val_loader, cfg.num_classes)
        metrics = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "val_loss": val_loss,
            "val_accuracy": confusion.trace().item() / confusion.sum().item(),
            "seconds": time.perf_counter() - started,
            "images_per_second": images / train_seconds,
        }
        if trainer.compile_seconds is not None and not compiled_before:
            metrics["compile_seconds"] = trainer.compile_seconds  # inside this epoch's seconds
        history.append(metrics)
        if report is not None:
            report(epoch, metrics)
        stopped_early = (should_stop is not None and should_stop()) or _patience_ran_out(
            history, recipe.early_stopping
        )
        if checkpoint_file is not None:
            save_checkpoint(
                {
                    "epoch": epoch,
                    "config": cfg.to_dict(),
                    "recipe": recipe.to_dict(),
                    **trainer.state_dict(),
                    # the loader's randomness is fixed by the epoch
                    "rng": capture_rng_state(device),
                    "history": history,
                    "stopped_early": stopped_early,
                },
                checkpoint_file,
            )
    return stopped_early


@dataclass
class _Trainer:
    """The model with what updates it: one optimization step, and the state a checkpoint holds."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    criterion: nn.Module
    grad_clip: float | None
    amp_dtype: torch.dtype | None
    forward: Callable[[torch.Tensor], torch.Tensor]  # the model, or its torch.compile wrapper
    compile_seconds: float | None = None

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, backward, update and schedule; returns the loss and the logits, detached.

        The first step of a compiled forward compiles it; that step is timed on its own.
        """
        if self.forward is not self.model and self.compile_seconds is None:
            _synchronize(images.device)
            started = time.perf_counter()
            result = self._step(images, labels)
            _synchronize(images.device)
            self.compile_seconds = time.perf_counter() - started
            return result
        return self._step(images, labels)

    def _step(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device_type = images.device.type
        with torch.autocast(device_type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            logits = self.forward(images)
            loss = self.criterion(logits, labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach(), logits.detach()

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        load_scaler_state(self.scaler, state.get("scaler") or {})


def _train_epoch(
    trainer: _Trainer, loader: DeviceLoader, device: torch.device, epoch: int
) -> tuple[float, float, int]:
    """One pass over the training data; returns mean loss, accuracy and the number of images.

    Losses and correct counts stay on the device, one slot per step, and are read once at the end
    (plus the periodic NaN check), so the GPU never waits for the host.
    """
    trainer.model.train()
    steps = len(loader)
    losses = torch.zeros(steps, device=device)
    correct = torch.zeros(steps, dtype=torch.int64, device=device)
    sizes: list[int] = []
    check_interval = 1 if device.type == "cpu" else _ACCELERATOR_CHECK_INTERVAL
    checked = 0
    for step, (images, labels) in enumerate(loader):
        losses[step], logits = trainer.step(images, labels)
        correct[step] = (logits.argmax(1) == labels).sum()
        sizes.append(labels.shape[0])
        if step + 1 - checked >= check_interval:
            _check_finite(losses, checked, step + 1, epoch)
            checked = step + 1
    _check_finite(losses, checked, steps, epoch)
    count = sum(sizes)
    weights = torch.tensor(sizes, dtype=torch.float64)
    mean_loss = (losses.cpu().double() * weights).sum().item() / count
    return mean_loss, correct.sum().item() / count, count


def _check_finite(losses: torch.Tensor, start: int, stop: int, epoch: int) -> None:
    window = losses[start:stop]
    bad = (~torch.isfinite(window)).nonzero()
    if bad.numel():
        index = start + int(bad[0].item())
        raise NonFiniteLossError(epoch, index + 1, float(losses[index].item()))


def _patience_ran_out(history: list[dict[str, float]], patience: int | None) -> bool:
    if patience is None:
        return False
    accuracies = [m["val_accuracy"] for m in history]
    best_epoch = accuracies.index(max(accuracies)) + 1
    return len(history) - best_epoch >= patience


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _check_data(cfg: ModelConfig, train_data: Dataset, val_data: Dataset) -> None:
    for split, data in (("train_data", train_data), ("val_data", val_data)):
        shape = (data.num_classes, data.in_channels, data.input_size)
        expected = (cfg.num_classes, cfg.in_channels, cfg.input_size)
        if shape != expected:
            raise ValueError(
                f"{split}: {data.name} has (classes, channels, size) {shape} but the config "
                f"expects {expected}; adapt it with cfg.with_data(...)"
            )


def _check_same_run(
    state: dict[str, Any], cfg: ModelConfig, recipe: TrainRecipe, checkpoint_file: Path
) -> None:
    """Refuses to resume a checkpoint written for another config or recipe: the result would be
    neither run."""
    for what, saved, current in (
        ("config", state["config"], cfg.to_dict()),
        ("recipe", state["recipe"], recipe.to_dict()),
    ):
        for key in sorted(set(saved) | set(current)):
            if saved.get(key) != current.get(key):
                raise ValueError(
                    f"{checkpoint_file}: written with a different {what} ({key} is "
                    f"{saved.get(key)!r} there, {current.get(key)!r} here); use another out_dir "
                    "or the same settings"
                )


_AMP_NAMES = {torch.bfloat16: "bf16", torch.float16: "fp16"}


def amp_dtype_for(amp: str, device_type: str, *, native_bf16: bool) -> torch.dtype | None:
    """The autocast dtype of a recipe's ``amp`` on a device type, or None for float32.

    Args:
        amp: ``auto``, ``bf16``, ``fp16`` or ``none``.
        device_type: ``cuda``, ``cpu``, ...
        native_bf16: the CUDA device computes bf16 in hardware (compute capability 8.0 and up);
            torch's emulation on older GPUs is slower than float32.

    Raises:
        ValueError: for ``bf16`` on a CUDA device that only emulates it.
    """
    if amp == "none" or (amp == "auto" and device_type != "cuda"):
        return None
    if amp == "auto":
        return torch.bfloat16 if native_bf16 else torch.float16
    if amp == "bf16":
        if device_type == "cuda" and not native_bf16:
            raise ValueError(
                "amp: this GPU only emulates bf16, which is slower than float32; "
                "use amp fp16 or auto"
            )
        return torch.bfloat16
    if device_type != "cuda":
        warnings.warn(
            f"amp 'fp16' is only used on CUDA; training in float32 on {device_type}", stacklevel=4
        )
        return None
    return torch.float16


def _amp_dtype(recipe: TrainRecipe, device: torch.device) -> torch.dtype | None:
    native_bf16 = device.type == "cuda" and _native_bf16(device)
    return amp_dtype_for(recipe.amp, device.type, native_bf16=native_bf16)


def _native_bf16(device: torch.device) -> bool:
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported(including_emulation=False)


def profile_options(recipe: TrainRecipe, device: torch.device) -> dict[str, Any]:
    """The ``profile_model`` keywords that describe how ``recipe`` trains on ``device``:
    the autocast precision, memory format and compile the trainer resolves, so a search's
    profiles (latency caps, max batch) measure the step its trials run."""
    dtype = _amp_dtype(recipe, device)
    return {
        "amp": _AMP_NAMES.get(dtype) if dtype is not None else None,
        "channels_last": uses_channels_last(recipe.memory_format, device),
        "compile": recipe.compile,
    }


def uses_channels_last(memory_format: str, device: torch.device) -> bool:
    """Whether a recipe's ``memory_format`` means NHWC on ``device`` (``auto``: on CUDA)."""
    if memory_format == "auto":
        return device.type == "cuda"
    return memory_format == "channels_last"


@contextlib.contextmanager
def cuda_training_flags(device: torch.device) -> Iterator[dict[str, bool]]:
    """On CUDA, lets cuDNN pick the fastest convolution algorithms for the fixed input shapes
    (``cudnn.benchmark``) and matmuls use TF32, as timm and airbench train; the previous
    settings come back afterwards. Yields the flags in force, for the environment stamp."""
    if device.type != "cuda":
        yield {"cudnn_benchmark": False, "tf32_matmul": False}
        return
    benchmark = torch.backends.cudnn.benchmark
    precision = torch.get_float32_matmul_precision()
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision("high")  # TF32 for float32 matmuls
    try:
        yield {"cudnn_benchmark": True, "tf32_matmul": True}
    finally:
        torch.backends.cudnn.benchmark = benchmark
        torch.set_float32_matmul_precision(precision)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _make_optimizer(model: nn.Module, recipe: TrainRecipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(
            model.parameters(),
            lr=recipe.lr,
            betas=(recipe.momentum, 0.999),
            weight_decay=recipe.weight_decay,
        )
    return torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        weight_decay=recipe.weight_decay,
        nesterov=recipe.optimizer == "sgd_nesterov",
    )


def _make_scheduler(
    optimizer: torch.optim.Optimizer, recipe: TrainRecipe, *, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A scheduler that advances once per batch, whatever the schedule."""
    total_steps = recipe.epochs * steps_per_epoch
    if recipe.schedule == "onecycle" and total_steps >= 2:
        # Rise over the first 25% of steps, but over at least one full step: a proxy run on a
        # small subset may have only a handful of steps, and a rise of zero steps divides by zero.
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=recipe.lr,
            total_steps=total_steps,
            pct_start=max(0.25, 1.5 / total_steps),
            cycle_momentum=False,  # keep the recipe's momentum what it says
        )
    warmup_steps = round(recipe.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        if recipe.schedule == "cosine":
            progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * progress))
        if recipe.schedule == "step":
            return recipe.gamma ** bisect.bisect_right(recipe.milestones, step // steps_per_epoch)
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
