#!/usr/bin/env bash
# CPU inference throughput of sparsexbar's eval path and of PyTorch in eval
# mode (Debian's python3-torch, torch.inference_mode) side by side in one run,
# measured the same way by both: one batch of random inputs resident in
# memory, warm-up forwards, then timed forwards ending with the logits read
# back (`sparsexbar bench infer`, scripts/torch_vgg_bench.py --eval). For each
# model, width and batch the two alternate `rounds` times at the given thread
# counts, so that both see the same machine load; the table gives every round,
# the medians and their ratio.
# Usage: bash scripts/infer-vs-torch.sh [build-dir] [rounds] [threads...]
#   env MODELS="vgg11 vgg16" WIDTHS="1.0 0.25" BATCHES="128 1000" IMAGES=768
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
R=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
THREADS=${*:-$(nproc)}
PY=${PYTHON:-/usr/bin/python3}
MODELS=${MODELS:-vgg11 vgg16} WIDTHS=${WIDTHS:-1.0 0.25} BATCHES=${BATCHES:-128 1000} IMAGES=${IMAGES:-768}
field() { "$PY" -c "import json,sys; print(round(json.loads(sys.stdin.readline())['images_per_second'], 1))"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo "# $(date -u '+%F %H:%M') UTC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}, $($PY -c 'import torch; print("torch", torch.__version__)')"
echo "| model | width | batch | threads | sparsexbar img/s (rounds) | median | PyTorch img/s (rounds) | median | ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for T in $THREADS; do
  for M in $MODELS; do
    for W in $WIDTHS; do
      for N in $BATCHES; do
        S=$(( (IMAGES + N - 1) / N ))
        ours=() theirs=()
        for _ in $(seq "$R"); do
          ours+=("$(OMP_NUM_THREADS=$T "$B/sparsexbar" bench infer --model "$M" --width "$W" --batch "$N" --steps "$S" \
            --warmup 1 --threads "$T" --json 2>/dev/null | field)")
          theirs+=("$("$PY" scripts/torch_vgg_bench.py --device cpu --eval --model "$M" --width "$W" --batch "$N" \
            --images $((S * N)) --warmup 1 --threads "$T" | field)")
        done
        a=$(median "${ours[@]}") b=$(median "${theirs[@]}")
        echo "| $M | $W | $N | $T | ${ours[*]} | $a | ${theirs[*]} | $b | $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}') |"
      done
    done
  done
done
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
