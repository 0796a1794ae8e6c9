#!/usr/bin/env bash
# CPU benchmarks for docs/performance.md, each against its anchor in the same
# run, with the machine, the date and the measured FMA peak: the tile solver
# on every core and on one core (its share of the peak), SciPy's SuperLU
# (COLAMD) of the same nodal system when python3-scipy is installed, the
# general sparse LU of bench_solver (Eigen SparseLU, one core), then training
# and inference against PyTorch when python3-torch is installed.
# Usage: bash scripts/bench-cpu.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
echo "# $(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-9s %-7s %-16s %-14s %-16s %-16s\n' size tiles "transfer s/tile" "share of peak" "(1 core)" "one-vector s/tile"
for spec in "16 16 1024" "32 32 256" "64 64 64" "128 128 16" "24 40 128"; do
  set -- $spec
  all=$(./$B/sparsexbar bench solver --backend cpu --rows "$1" --cols "$2" --tiles "$3" --json)
  one=$(OMP_NUM_THREADS=1 ./$B/sparsexbar bench solver --backend cpu --rows "$1" --cols "$2" --tiles "$3" --json)
  get() { echo "$1" | sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p"; }
  printf '%-9s %-7s %-16s %-14s %-16s %-16s\n' "$1x$2" "$3" "$(get "$all" transfer_s_per_tile)" \
    "$(get "$all" transfer_share_of_peak | cut -c1-5)" "$(get "$one" transfer_s_per_tile)" \
    "$(get "$all" one_vector_s_per_tile)"
done
share=$(./$B/sparsexbar bench solver --backend cpu --rows 64 --cols 64 --tiles 64 --json)
echo "# 64x64 on every core: $(echo "$share" | sed -n 's/.*"transfer_share_of_peak": \([0-9.e+-]*\).*/\1/p') of the measured FMA peak" \
  "($(echo "$share" | sed -n 's/.*"fma_peak_per_s_per_thread": \([0-9.e+-]*\).*/\1/p') multiply-adds/s per thread)"
# The anchor: SciPy's SuperLU (one core) of the same 64x64 nodal system, against
# the sweep's 2-thread time of the line above (scripts/superlu_anchor.py).
py=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import scipy' 2>/dev/null; then py=$candidate; break; fi
done
if [ -n "$py" ]; then
  sweep=$(echo "$share" | sed -n 's/.*"transfer_s_per_tile": \([0-9.e+-]*\).*/\1/p')
  lu=$("$py" scripts/superlu_anchor.py "$B/sparsexbar" --rows 64 --cols 64 --sweep-s-per-tile "$sweep")
  echo "# SciPy SuperLU (COLAMD), factor + 64 solves, one core: $(echo "$lu" | sed -n 's/.*"superlu_s_per_tile": \([0-9.e+-]*\).*/\1/p') s per 64x64 tile;" \
    "$(echo "$lu" | sed -n 's/.*"superlu_over_sweep": \([0-9.e+-]*\).*/\1/p' | cut -c1-5)x the sweep on every core" \
    "(T agrees to $(echo "$lu" | sed -n 's/.*"max_relative_difference": \([0-9.e+-]*\).*/\1/p'))"
else
  echo "# SciPy SuperLU anchor skipped: no python3 with scipy (Debian: apt-get install python3-scipy)"
fi
if [ -x "$B/bench/bench_solver" ]; then
  echo "# the sweep's phases on one core: useful multiply-adds/s against BM_PeakFma in the same run"
  OMP_NUM_THREADS=1 "$B/bench/bench_solver" --benchmark_filter='BM_PeakFma|BM_Phase_|BM_Lane_(Inverse|Product|BitLine)' 2>/dev/null | grep BM_
  echo "# general sparse LU vs sweep (per tile, and 4 or 8 tiles in lanes), one core each (Google Benchmark, wall and CPU time)"
  OMP_NUM_THREADS=1 "$B/bench/bench_solver" \
    --benchmark_filter='BM_SparseLU_Transfer/(32|64)/|BM_Sweep_Transfer/(32|64)/|BM_Lane_Transfer<[48]>/(32|64)/' 2>/dev/null | grep BM_
fi
# Training and inference against PyTorch eager on the same CPU (Debian's
# python3-torch), alternating rounds (scripts/cpu-vs-torch.sh, infer-vs-torch.sh).
PY=${PYTHON:-/usr/bin/python3}
if "$PY" -c 'import torch' 2>/dev/null; then
  echo "# training, VGG11 width 1.0, batch 128: sparsexbar against PyTorch (3 rounds, medians)"
  bash scripts/cpu-vs-torch.sh "$B" 3 8 | tail -n +2
  echo "# inference (eval path), VGG11 width 1.0, batch 128: sparsexbar against PyTorch (3 rounds, medians)"
  MODELS=vgg11 WIDTHS=1.0 BATCHES=128 bash scripts/infer-vs-torch.sh "$B" 3 $(printf '%s\n' 1 "$(nproc)" | sort -un) | tail -n +2
else
  echo "# training and inference against PyTorch: skipped ($PY has no torch; apt install python3-torch)"
fi
