#!/usr/bin/env bash
# A sweep as a Slurm job array: one array task per shard, no coordinator.
#   sbatch --array=0-15 scripts/slurm-sweep.sh data/sweep_example.json
# Each task runs `sweep run --shard auto` (shard = array index of the array's
# size) with results in sweep-<name>/ and the model/W_eff cache on the shared
# file system; resubmitting the same array continues where it stopped. Then:
#   build/sparsexbar sweep merge sweep-<name> --csv t.csv --svg p.svg --x crossbar.r_wire --series tile
#SBATCH --job-name=sparsexbar-sweep
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
#SBATCH --signal=TERM@120
set -euo pipefail
SWEEP=${1:?usage: sbatch --array=0-N scripts/slurm-sweep.sh SWEEP.json}
BIN=${BIN:-build/sparsexbar}
CACHE=${SPARSEXBAR_CACHE:-$PWD/.sparsexbar-cache}
exec "$BIN" sweep run "$SWEEP" --shard auto --cache-dir "$CACHE" --device auto --backend auto \
  --threads "${SLURM_CPUS_PER_TASK:-0}"
