#!/usr/bin/env bash
# Train VGG11 on the real CIFAR-10 and evaluate it on the full test set
# (docs/results.md). DATA is a data spec: the JPEG folders of
# ../shared/data/cifar10-jpeg.tar.gz (unpacked here on first use) by default,
# or cifar10:DIR for the official binary files.
#   bash scripts/train-cifar10.sh                    # width 0.25, 15 epochs
#   WIDTH=0.5 EPOCHS=30 OUT=runs/c10-w05 bash scripts/train-cifar10.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/sparsexbar}
WIDTH=${WIDTH:-0.25}
EPOCHS=${EPOCHS:-15}
LR=${LR:-0.05}
SEED=${SEED:-1}
OUT=${OUT:-runs/cifar10-vgg11-w$WIDTH}
if [ -z "${DATA:-}" ]; then
  TAR=../shared/data/cifar10-jpeg.tar.gz
  [ -f "$TAR" ] || { echo "no DATA given and $TAR is absent" >&2; exit 1; }
  mkdir -p data/cache
  [ -d data/cache/cifar10-jpeg ] || tar xzf "$TAR" -C data/cache
  DATA=folder:data/cache/cifar10-jpeg
fi
mkdir -p "$OUT"
resume=(); [ -f "$OUT/model.ckpt.safetensors" ] && [ ! -f "$OUT/model.safetensors" ] && resume=(--resume)
if [ ! -f "$OUT/model.safetensors" ]; then
  start=$(date +%s)
  "$BIN" train --model vgg11 --width "$WIDTH" --data "$DATA" --epochs "$EPOCHS" --lr "$LR" --seed "$SEED" \
    --out "$OUT/model.safetensors" "${resume[@]}" 2>&1 | tee -a "$OUT/train.log" | grep -v ' step '
  echo "training wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/train.log"
fi
"$BIN" software-eval --model vgg11 --weights "$OUT/model.safetensors" --data "$DATA" --json "$OUT/test.json"
