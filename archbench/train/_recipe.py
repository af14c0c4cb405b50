"""Training recipes: every hyperparameter of a run in one frozen, strictly validated record.

A recipe travels with its results (the summary of ``archbench train``, the study attributes of a
search, an exported config), so a run can be repeated from the file alone. The shipped recipes
follow the anchors in ``docs/recipes.md``: SGD with step decay (the seed project's
recipe), AdamW with one-cycle (Smith and Topin, 2017, arXiv:1708.07120), and the standard CIFAR
recipe of SGD Nesterov with a cosine schedule and Cutout (DeVries and Taylor, 2017,
arXiv:1708.04552).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from archbench import _dataclass_io
from archbench.data import Augment, default_augment

Optimizer = Literal["sgd", "sgd_nesterov", "adamw"]
Schedule = Literal["onecycle", "cosine", "step", "none"]
Amp = Literal["auto", "none", "bf16", "fp16"]
MemoryFormat = Literal["auto", "channels_last", "contiguous"]


def _require(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{field_name}: {message}")


@dataclass(frozen=True, kw_only=True)
class TrainRecipe:
    """How to train a model: optimizer, schedule, regularization, augmentation, precision, seed.

    Attributes:
        optimizer: ``sgd``, ``sgd_nesterov`` or ``adamw``.
        lr: peak learning rate (the one-cycle maximum; the value after warm-up otherwise).
        momentum: SGD momentum, or AdamW's beta1.
        weight_decay: L2 penalty for SGD, decoupled decay for AdamW (applied to every parameter).
        batch_size: training images per step.
        epochs: passes over the training split.
        schedule: ``onecycle`` (rises over its first quarter, then cosine to ~0), ``cosine`` (to 0
            after warm-up), ``step`` (times ``gamma`` at each of ``milestones``) or ``none``.
            Every schedule advances once per batch.
        milestones: epochs at which ``step`` multiplies the rate by ``gamma``; one at or past
            ``epochs`` never fires, as with torch's ``MultiStepLR``.
        gamma: the factor ``step`` applies at each milestone.
        warmup_epochs: linear warm-up from near 0 to ``lr``, in epochs (fractions allowed); not for
            ``onecycle``, which warms up by itself.
        label_smoothing: cross-entropy label smoothing (Szegedy et al., 2016) for training.
        augmentation: crop padding, flips and cutout in pixels (``archbench.data.Augment``),
            applied as written whatever the data; None (null) means the data set's default, as for
            ``DeviceLoader``: shifts and flips on photos, shifts but no flips on digits. No
            augmentation at all is ``{crop_padding: 0, flip: false}``.
        cutout: side of a Cutout square as a fraction of the image side, added to the data
            set's default augmentation (0.5 is the paper's 16 pixels on CIFAR's 32, 14 on 28x28
            digits); only with ``augmentation: null``, so a recipe follows the data it meets.
        amp: autocast precision. ``auto``: bf16 on CUDA devices with native bf16, fp16 (with
            a gradient scaler) on older ones, none on CPU. ``bf16`` also runs on CPU; on a GPU
            that only emulates it, it is refused. ``fp16`` adds a gradient scaler and is
            ignored on CPU.
        grad_clip: maximum global gradient norm, or None for no clipping.
        early_stopping: stop after this many epochs without a better validation accuracy, or None.
        seed: seeds weights, data order, augmentation and dropout; on the CPU the same seed
            gives the same weights (some CUDA kernels are not deterministic).
        val_fraction: share of the training split held out (stratified) for validation by the
            callers that split (``archbench train``, the search objective).
        memory_format: layout of the model and every batch; ``auto`` is ``channels_last`` on
            CUDA (tensor-core convolutions want NHWC) and ``contiguous`` elsewhere.
        compile: ``torch.compile`` the training forward once per run; its seconds are recorded
            apart (``compile_seconds``). Evaluation runs the eager model.
    """

    optimizer: Optimizer = "sgd_nesterov"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    epochs: int = 30
    schedule: Schedule = "cosine"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    augmentation: Augment | None = None
    cutout: float = 0.0
    amp: Amp = "auto"
    grad_clip: float | None = None
    early_stopping: int | None = None
    seed: int = 0
    val_fraction: float = 0.1
    memory_format: MemoryFormat = "auto"
    compile: bool = False

    def __post_init__(self) -> None:
        _require(
            math.isfinite(self.lr) and self.lr > 0,
            "lr",
            f"must be a positive number, got {self.lr}",
        )
        _require(0.0 <= self.momentum < 1.0, "momentum", f"must be in [0, 1), got {self.momentum}")
        _require(
            self.optimizer != "sgd_nesterov" or self.momentum > 0,
            "momentum",
            "sgd_nesterov needs momentum > 0; use optimizer 'sgd' for plain SGD",
        )
        _require(
            0.0 <= self.weight_decay < 1.0,
            "weight_decay",
            f"must be in [0, 1), got {self.weight_decay}",
        )
        _require(
            1 <= self.batch_size <= 65536,
            "batch_size",
            f"must be in [1, 65536], got {self.batch_size}",
        )
        _require(1 <= self.epochs <= 10000, "epochs", f"must be in [1, 10000], got {self.epochs}")
        if self.schedule == "step":
            _require(
                len(self.milestones) > 0,
                "milestones",
                "schedule 'step' needs at least one milestone epoch, e.g. [50, 75]",
            )
        else:
            _require(
                not self.milestones,
                "milestones",
                f"only used by schedule 'step', not {self.schedule!r}; remove them",
            )
        _require(
            all(m >= 1 for m in self.milestones)
            and all(a < b for a, b in zip(self.milestones, self.milestones[1:])),
            "milestones",
            f"must be increasing epochs >= 1, got {list(self.milestones)}",
        )
        _require(0.0 < self.gamma <= 1.0, "gamma", f"must be in (0, 1], got {self.gamma}")
        _require(
            0.0 <= self.warmup_epochs <= self.epochs,
            "warmup_epochs",
            f"must be in [0, epochs={self.epochs}], got {self.warmup_epochs}",
        )
        _require(
            self.schedule != "onecycle" or self.warmup_epochs == 0,
            "warmup_epochs",
            "onecycle warms up over its first quarter by itself; set 0 or use schedule 'cosine'",
        )
        _require(
            0.0 <= self.label_smoothing < 1.0,
            "label_smoothing",
            f"must be in [0, 1), got {self.label_smoothing}",
        )
        _require(0.0 <= self.cutout < 1.0, "cutout", f"must be in [0, 1), got {self.cutout}")
        _require(
            self.augmentation is None or self.cutout == 0,
            "cutout",
            "a fraction of the image only adds to the data set's default augmentation; with an "
            "explicit augmentation, set its cutout in pixels instead",
        )
        _require(
            self.grad_clip is None or self.grad_clip > 0,
            "grad_clip",
            f"must be a positive max norm or null, got {self.grad_clip}",
        )
        _require(
            self.early_stopping is None or self.early_stopping >= 1,
            "early_stopping",
            f"must be a patience of >= 1 epochs or null, got {self.early_stopping}",
        )
        _require(0 <= self.seed < 2**63, "seed", f"must be in [0, 2**63), got {self.seed}")
        _require(
            0.0 < self.val_fraction < 1.0,
            "val_fraction",
            f"must be in (0, 1), got {self.val_fraction}",
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainRecipe:
        """Builds a recipe from plain data (YAML, JSON), rejecting unknown keys.

        Raises:
            ValueError: naming the field and what it accepts.
        """
        return _dataclass_io.from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        return _dataclass_io.to_dict(self)

    def with_epochs(self, epochs: int) -> TrainRecipe:
        """The same recipe over ``epochs``: warm-up and milestones keep their share of the run.

        The cosine and one-cycle schedules already span whatever ``epochs`` says, so a short
        check (``train --epochs 3``) runs the whole schedule compressed, warm-up included,
        instead of spending all its steps warming up or never reaching a milestone.
        """
        if epochs == self.epochs:
            return self
        scale = epochs / self.epochs
        milestones = sorted({max(1, round(m * scale)) for m in self.milestones})
        return replace(
            self,
            epochs=epochs,
            warmup_epochs=self.warmup_epochs * scale,
            milestones=tuple(milestones),
        )

    def for_train_images(self, images: int) -> TrainRecipe:
        """The recipe at a batch that gives an epoch of ``images`` at least
        ``MIN_STEPS_PER_EPOCH`` optimizer steps, halving down to ``MIN_BATCH_SIZE``, with the
        learning rate scaled by the square root of the batch (Krizhevsky, 2014,
        arXiv:1404.5997).

        Batch 128 suits CIFAR's 45,000 training images (351 steps an epoch); on mnist5k's 3,600
        it leaves 28, and a short check a quarter of the steps its proxy took. Measured on nine
        seeded configs (docs/results/export_recipe.md): at batch 32 the square-root rate (0.05)
        trains resnets best, the linear one (0.025) trails it on every weak net.
        """
        batch = self.batch_size
        while batch // 2 >= MIN_BATCH_SIZE and images // batch < MIN_STEPS_PER_EPOCH:
            batch //= 2
        if batch == self.batch_size:
            return self
        return replace(self, batch_size=batch, lr=self.lr * math.sqrt(batch / self.batch_size))

    def augment_for(self, dataset_name: str, image_size: int) -> Augment:
        """The training augmentation this recipe applies to a data set's images."""
        if self.augmentation is not None:
            return self.augmentation
        augment = default_augment(dataset_name)
        if self.cutout:
            augment = replace(augment, cutout=max(1, round(self.cutout * image_size)))
        return augment


# ``TrainRecipe.for_train_images``: the fewest steps an exported recipe's epoch takes, and the
# smallest batch it halves to for that (the proxy's).
MIN_STEPS_PER_EPOCH = 100
MIN_BATCH_SIZE = 32

RECIPES: dict[str, TrainRecipe] = {
    # For search trials, where three epochs must already rank architectures. Validation accuracy
    # of simple_cnn on mnist5k after 3 epochs (seed 0): this recipe 96.25% (96.25-96.75% over
    # seeds 1-3); at batch 128 94.0%; AdamW 2e-3 one-cycle at batch 64 96.25%, at 5e-3 and
    # batch 128 94.5%; adamw_onecycle cut to 3 epochs 90.5%. Small batches win when an epoch
    # is a few dozen steps. Batch 32 with gradient clipping at norm 1: of 24 seeded feasible
    # resnet configs (1M params, 60M FLOPs, mnist5k, 1 epoch; benchmarks/proxy_recipes.py) none
    # ended below 20% validation accuracy, against 4 at batch 64 unclipped (median 92.7% against
    # 74.4%, at about 1.05x the time). The thin deep nets that ended low were slow, not
    # unstable: a lower LR did worse, LR 0.2 diverged on one more.
    "proxy": TrainRecipe(
        optimizer="sgd_nesterov",
        lr=0.1,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=32,
        epochs=3,
        schedule="onecycle",
        grad_clip=1.0,
    ),
    # The seed project's recipe, kept as the baseline to beat.
    "sgd_step": TrainRecipe(
        optimizer="sgd",
        lr=0.01,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=256,
        epochs=100,
        schedule="step",
        milestones=(50, 75),
        gamma=0.1,
        label_smoothing=0.1,
        cutout=0.5,
    ),
    "adamw_onecycle": TrainRecipe(
        optimizer="adamw",
        lr=1e-3,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=128,
        epochs=65,
        schedule="onecycle",
        label_smoothing=0.1,
    ),
    # The standard recipe of docs/recipes.md: 95-96% with a ResNet-18-sized net. It is what
    # `archbench export` writes, so it must train whatever a space produces on whatever data the
    # search ran: the data set's own augmentation plus Cutout at half the image side (16 pixels
    # on CIFAR), a 5-epoch warm-up (Goyal et al., 2017, arXiv:1706.02677) and clipping, which
    # keep the thin, deep nets of a capped space from diverging at LR 0.1
    # (benchmarks/export_recipe.py; docs/recipes.md).
    "sgd_cosine": TrainRecipe(
        optimizer="sgd_nesterov",
        lr=0.1,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=128,
        epochs=200,
        schedule="cosine",
        warmup_epochs=5,
        cutout=0.5,
        grad_clip=2.0,
    ),
}


def list_recipes() -> list[str]:
    return list(RECIPES)


def get_recipe(name: str) -> TrainRecipe:
    """A shipped recipe by name.

    Raises:
        ValueError: for an unknown name, listing the recipes.
    """
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}; recipes: {', '.join(RECIPES)}") from None


def load_recipe(path: str | Path) -> TrainRecipe:
    """Reads a recipe from YAML or JSON.

    An exported config (see ``archbench export``) carries its recipe under ``recipe``, as a
    mapping or a shipped recipe's name; it is accepted as-is.

    Raises:
        ValueError: when the file is unreadable or the recipe is invalid, naming the file.
    """
    data: Any = _dataclass_io.read_mapping(path)
    if "recipe" in data:
        data = data["recipe"]
    try:
        return get_recipe(data) if isinstance(data, str) else TrainRecipe.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def resolve_recipe(spec: str) -> TrainRecipe:
    """A shipped recipe's name, or a YAML/JSON recipe file.

    Raises:
        ValueError: when ``spec`` is neither.
    """
    if spec in RECIPES:
        return RECIPES[spec]
    if Path(spec).suffix in (".yaml", ".yml", ".json") or Path(spec).exists():
        return load_recipe(spec)
    raise ValueError(f"{spec!r} is neither a recipe ({', '.join(RECIPES)}) nor a recipe file")
