#!/usr/bin/env bash
# The CIFAR-10 JPEG figures of issue 22 (docs/results/cifar10_*.md), sized for a 2-core CPU.
#
#   bash benchmarks/cifar10_figures.sh ARCHIVE [decode|fidelity|fidelity6|search|recipe|all]
#
# ARCHIVE is the CIFAR-10 JPEG image-folder archive (cifar10-jpeg.tar.gz, not in the repo). Every
# step resumes from its storage under runs/cifar10/; SIZE, CAPS and the epoch counts below are the
# scaled-down settings the results were measured with; raise them on a bigger machine.
set -euo pipefail
ARCHIVE=${1:?give the cifar10-jpeg archive}
STEP=${2:-all}
OUT=runs/cifar10
export ARCHBENCH_DATA=${ARCHBENCH_DATA:-$OUT/cache}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one thread per process: no spinning on a shared CPU
PER_CLASS=${PER_CLASS:-50}                     # train, val and test images per class
CAPS=(--space resnet --max-params 300k --max-flops 30M)
SUBSET=$OUT/cifar10-jpeg-$((PER_CLASS * 10)).tar
mkdir -p "$OUT"
[[ -f $SUBSET ]] || python benchmarks/cifar_subset.py "$ARCHIVE" --train "$PER_CLASS" \
    --val "$PER_CLASS" --test "$PER_CLASS" --out "$SUBSET"

if [[ $STEP == decode || $STEP == all ]]; then
    python benchmarks/image_folder.py "$ARCHIVE"
fi
if [[ $STEP == fidelity || $STEP == all ]]; then
    archbench fidelity "${CAPS[@]}" --dataset "$SUBSET" --samples 16 --proxy-epochs 1,2 \
        --proxy-subset 0.5 --reference-epochs 2 --reference-seeds 2 --device cpu \
        --storage "sqlite:///$OUT/fidelity.db" --out "$OUT/fidelity" --quiet
fi
SEARCH_SET=$OUT/cifar10-jpeg-5k.tar  # 500 train, 200 val and 200 test images per class
if [[ $STEP == fidelity6 || $STEP == search || $STEP == all ]]; then
    [[ -f $SEARCH_SET ]] || python benchmarks/cifar_subset.py "$ARCHIVE" --train 500 --val 200 \
        --test 200 --out "$SEARCH_SET"
fi
if [[ $STEP == fidelity6 || $STEP == all ]]; then
    # The reference the issue asks for: 6 epochs on the 4,500 training images, 2 seeds.
    archbench fidelity "${CAPS[@]}" --dataset "$SEARCH_SET" --samples 16 --proxy-epochs 1,2 \
        --proxy-subset 0.5 --reference-epochs 6 --reference-seeds 2 --device cpu \
        --storage "sqlite:///$OUT/fid6.db" --out "$OUT/fid6" --quiet
fi
if [[ $STEP == search || $STEP == all ]]; then
    # Proxies on half of the 5k cut's training split.
    python benchmarks/search_quality.py --dataset "$SEARCH_SET" --max-params 300k \
        --max-flops 30M --subset 0.5 --seeds 1,2,3 --trials 10 --reference-epochs 4 \
        --reference-seeds 2 --out "$OUT/search"
fi
if [[ $STEP == recipe || $STEP == all ]]; then
    # The best config of the first TPE search, trained with the recipe `archbench export` writes.
    archbench export --storage "sqlite:///$OUT/search/search_quality.db" \
        --study tpe-seed1-trials10 --top 1 --out "$OUT/export" --force --json > "$OUT/export.json"
    CONFIG=$(python -c "import json; print(json.load(open('$OUT/export.json'))[0]['path'])")
    archbench train "$CONFIG" --dataset "$OUT/cifar10-jpeg-5k.tar" --epochs 4 --device cpu \
        --out "$OUT/recipe-run" --json > "$OUT/recipe-run.json"
fi
