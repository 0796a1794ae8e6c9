#!/usr/bin/env bash
# CPU training throughput of sparsexbar and of PyTorch eager (Debian's
# python3-torch) side by side in one run, measured the same way by both:
# VGG11 width 1.0 (MODELS, WIDTHS), batch 128, SGD momentum 0.9, weight decay
# 5e-4, one batch of random inputs resident in memory, 5 warm-up steps, then
# timed steps (`sparsexbar bench train`, scripts/torch_vgg_bench.py). The two
# alternate `rounds` times at 1 thread and at all cores (THREADS), so that
# both see the same machine load; the table gives every round and the median.
# Usage: bash scripts/cpu-vs-torch.sh [build-dir] [rounds] [steps]
#   env MODELS="vgg11 vgg16" WIDTHS="1.0 0.25" THREADS="1 2"
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
R=${2:-3}
S=${3:-8}
PY=${PYTHON:-/usr/bin/python3}
MODELS=${MODELS:-vgg11} WIDTHS=${WIDTHS:-1.0} THREADS=${THREADS:-$(printf '%s\n' 1 "$(nproc)" | sort -un)}
field() { "$PY" -c "import json,sys; print(round(json.loads(sys.stdin.readline())['images_per_second'], 1))"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo "# $(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores," \
  "load $(cut -d' ' -f1 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, $S steps of 128 images"
echo "| model | width | threads | sparsexbar img/s (rounds) | median | PyTorch img/s (rounds) | median | ratio |"
echo "|---|---|---|---|---|---|---|---|"
for T in $THREADS; do
  for M in $MODELS; do
    for W in $WIDTHS; do
      ours=() theirs=()
      for _ in $(seq "$R"); do
        ours+=("$(OMP_NUM_THREADS=$T "$B/sparsexbar" bench train --model "$M" --width "$W" --batch 128 --steps "$S" \
          --threads "$T" --json | field)")
        theirs+=("$("$PY" scripts/torch_vgg_bench.py --device cpu --model "$M" --width "$W" --images $((S * 128)) \
          --threads "$T" | field)")
      done
      a=$(median "${ours[@]}") b=$(median "${theirs[@]}")
      echo "| $M | $W | $T | ${ours[*]} | $a | ${theirs[*]} | $b | $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}') |"
    done
  done
done
