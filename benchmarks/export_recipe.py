"""Does the exported full-training recipe train the configs a search exports?

For each family, draws seeded feasible configs of its built-in space under a budget (1M params
and, by default, 20M FLOPs on mnist5k's 1x28x28). Trains every config with the proxy recipe a
search uses (3 epochs) and with each full-training candidate shortened to the same 3 epochs
(``TrainRecipe.with_epochs``: the ``archbench train --epochs 3`` check that ``export`` prints),
all on mnist5k with the same seed and split. Prints per family and candidate the configs that
end below 20% validation accuracy (diverged), those at or above their proxy accuracy, the mean
and median accuracy and the wall time. ``before: sgd_cosine`` is the recipe as shipped before
issue 20; ``sgd_cosine (exported)`` is the recipe as ``export`` writes it for mnist5k
(``TrainRecipe.for_train_images``: batch 32). Per-run rows go to ``--out`` as JSON lines; a
rerun with the same ``--out`` skips the runs already there.

    python benchmarks/export_recipe.py [--configs 10] [--families resnet,vgg,branchnet]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from typing import Any

from proxy_recipes import feasible_configs, read_rows  # the proxy benchmark's draw and rows

from archbench.data import Augment, load_dataset, split_train_val
from archbench.train import RECIPES, NonFiniteLossError, TrainRecipe, train_model

DIVERGED = 0.2
EPOCHS = 3
TRAIN_IMAGES = 3600  # mnist5k's training split less the 10% held out for validation

_COSINE_BEFORE = TrainRecipe(
    optimizer="sgd_nesterov",
    lr=0.1,
    weight_decay=5e-4,
    batch_size=128,
    epochs=200,
    schedule="cosine",
    augmentation=Augment(crop_padding=4, flip=True, cutout=16),
)
CANDIDATES: dict[str, TrainRecipe] = {
    "proxy (search)": RECIPES["proxy"],
    "before: sgd_cosine": _COSINE_BEFORE,
    "data augmentation": dataclasses.replace(_COSINE_BEFORE, augmentation=None, cutout=0.5),
    "sgd_cosine (shipped)": RECIPES["sgd_cosine"],
    # What `archbench export` writes for a search on mnist5k: batch 32 at LR 0.05.
    "sgd_cosine (exported)": RECIPES["sgd_cosine"].for_train_images(TRAIN_IMAGES),
    # The other learning rates at batch 32 that for_train_images' square-root scaling beat.
    "batch 32, LR 0.025": dataclasses.replace(RECIPES["sgd_cosine"], batch_size=32, lr=0.025),
    "batch 32, LR 0.1": dataclasses.replace(RECIPES["sgd_cosine"], batch_size=32, lr=0.1),
}
BASELINE = "proxy (search)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", type=int, default=10)
    parser.add_argument("--families", default="resnet,vgg,branchnet")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-flops", type=int, default=20_000_000)
    parser.add_argument("--candidates", default="all", help="comma-separated names, or all")
    parser.add_argument("--out", default="export_recipe.jsonl")
    args = parser.parse_args()
    names = list(CANDIDATES) if args.candidates == "all" else args.candidates.split(",")
    if BASELINE not in names:
        names.insert(0, BASELINE)
    full = load_dataset("mnist5k", "train")
    train, val = split_train_val(full, val_fraction=0.1, seed=0)
    assert len(train) == TRAIN_IMAGES
    done = {(r["family"], r["config"], r["candidate"]): r for r in read_rows(args.out)}
    rows: list[dict[str, Any]] = []
    with open(args.out, "a") as out:
        for family in args.families.split(","):
            configs = feasible_configs(args.configs, args.seed, family, args.max_flops)
            for index, cfg in enumerate(configs):
                for name in names:
                    if (family, index, name) in done:
                        rows.append(done[family, index, name])
                        continue
                    recipe = CANDIDATES[name].with_epochs(EPOCHS)
                    started = time.perf_counter()
                    try:
                        accuracy = train_model(
                            cfg, recipe, train_data=train, val_data=val
                        ).best_val_accuracy
                    except NonFiniteLossError:
                        accuracy = 0.0
                    row = {
                        "family": family,
                        "config": index,
                        "candidate": name,
                        "val_accuracy": accuracy,
                        "seconds": time.perf_counter() - started,
                        "model": cfg.to_dict(),
                    }
                    rows.append(row)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    print(
                        f"{family:<9} config {index:>2} {name:<22} {accuracy:6.1%} "
                        f"{row['seconds']:6.1f}s",
                        flush=True,
                    )
    _summarize(rows, names)


def _summarize(rows: list[dict[str, Any]], names: list[str]) -> None:
    proxy = {
        (r["family"], r["config"]): r["val_accuracy"] for r in rows if r["candidate"] == BASELINE
    }
    print(
        f"\n{'family':<9} {'candidate':<22} {'diverged':>9} {'>= proxy':>9} {'mean acc':>9} "
        f"{'median':>8} {'seconds':>8}"
    )
    for family in dict.fromkeys(r["family"] for r in rows):
        for name in names:
            mine = [r for r in rows if r["family"] == family and r["candidate"] == name]
            accs = [r["val_accuracy"] for r in mine]
            at_least = sum(
                r["val_accuracy"] >= proxy[family, r["config"]]
                for r in mine
                if (family, r["config"]) in proxy
            )
            print(
                f"{family:<9} {name:<22} {sum(a < DIVERGED for a in accs):>3}/{len(accs):<5} "
                f"{at_least:>3}/{len(accs):<5} {statistics.mean(accs):>9.1%} "
                f"{statistics.median(accs):>8.1%} {sum(r['seconds'] for r in mine):>8.0f}"
            )


if __name__ == "__main__":
    main()
