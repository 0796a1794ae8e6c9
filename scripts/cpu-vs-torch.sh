#!/usr/bin/env bash
# CPU training throughput of sparsexbar and of PyTorch eager (Debian's
# python3-torch) side by side in one run: VGG11 width 1.0, batch 128, SGD
# momentum 0.9, weight decay 5e-4, alternating the two twice so both see the
# same machine load. Usage: bash scripts/cpu-vs-torch.sh [build-dir] [threads] [images]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
T=${2:-$(nproc)}
N=${3:-2560}
PY=${PYTHON:-/usr/bin/python3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "# $(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $T threads, $N images," \
  "load $(cut -d' ' -f1 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
for round in 1 2; do
  line=$(OMP_NUM_THREADS=$T "$B/sparsexbar" train --model vgg11 --width 1.0 --data "synthetic:$N" --epochs 1 \
    --batch 128 --threads "$T" --out "$out/m$round.safetensors" 2>&1 | grep '^epoch 1/1:')
  echo "sparsexbar: $(echo "$line" | grep -o '[0-9.]* img/s')  ($line)"
  res=$("$PY" scripts/torch_vgg_bench.py --device cpu --model vgg11 --width 1.0 --images "$N" --threads "$T")
  echo "pytorch: $(echo "$res" | sed -n 's/.*"images_per_second": \([0-9.]*\).*/\1/p') img/s  ($res)"
done
