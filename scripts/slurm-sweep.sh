#!/usr/bin/env bash
# A sweep as a Slurm job array. Every task runs `sweep run --shard auto`, which
# under a job array *claims* points through lock files in the results folder
# (<out>/claims/<id>.lock): any number of tasks, a stepped array (0-6:2), a
# resubmitted subset (--array=0) or a late joiner share the points without
# running one twice; a cancelled task's claims are released by the OS.
#
# Submit (either form; see docs/cli.md, "Cluster workflow"):
#   sbatch --array=0-3 scripts/slurm-sweep.sh data/sweep_example.json
#   ARRAY=0-3 CPUS=8 GPUS=1 scripts/slurm-sweep.sh data/sweep_example.json   # calls sbatch itself
# Variables (all optional):
#   BIN    the sparsexbar binary (default: build/sparsexbar of the submit folder; a relative
#          path is taken from the submit folder); checked before anything runs
#   OUT    results folder (default: sweep-<name> in the submit folder)
#   CACHE  model and W_eff cache on the shared file system (default: $SPARSEXBAR_CACHE, else
#          .sparsexbar-cache in the submit folder)
#   CPUS   cores per task (default 2), GPUS GPUs per task (default 0: no GPU is requested),
#   ARRAY  the array when the script submits itself (default 0-3)
# Then: build/sparsexbar sweep merge sweep-<name> --csv t.csv
#SBATCH --job-name=sparsexbar-sweep
#SBATCH --cpus-per-task=2
#SBATCH --time=04:00:00
#SBATCH --signal=B:TERM@120
set -euo pipefail
SWEEP=${1:?usage: sbatch --array=0-N scripts/slurm-sweep.sh SWEEP.json (or ARRAY=0-N scripts/slurm-sweep.sh SWEEP.json)}
HERE=${SLURM_SUBMIT_DIR:-$PWD}
resolve() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$HERE/$1" ;; esac; }

BIN=$(resolve "${BIN:-build/sparsexbar}")
if [[ ! -x $BIN ]]; then
  echo "slurm-sweep.sh: BIN=$BIN is not an executable file (set BIN=/path/to/sparsexbar)" >&2
  exit 2
fi
SWEEP=$(resolve "$SWEEP")
CACHE=$(resolve "${CACHE:-${SPARSEXBAR_CACHE:-.sparsexbar-cache}}")
CPUS=${CPUS:-${SLURM_CPUS_PER_TASK:-2}}
GPUS=${GPUS:-0}

if [[ -z ${SLURM_JOB_ID:-} ]]; then  # not in a job: submit this script as the array
  gres=()
  [[ $GPUS != 0 ]] && gres=(--gres="gpu:$GPUS")
  exec sbatch --array="${ARRAY:-0-3}" --cpus-per-task="$CPUS" "${gres[@]}" \
    --export="ALL,BIN=$BIN,CACHE=$CACHE,GPUS=$GPUS${OUT:+,OUT=$(resolve "$OUT")}" "$0" "$SWEEP"
fi

cd "$HERE"
out=()
[[ -n ${OUT:-} ]] && out=(--out "$(resolve "$OUT")")
device=cpu
[[ $GPUS != 0 ]] && device=auto
# exec: the batch shell becomes sparsexbar, so B:TERM (120 s before the time limit) reaches it;
# it finishes the step in flight, keeps its checkpoint, and a resubmitted task resumes it.
exec "$BIN" sweep run "$SWEEP" "${out[@]}" --shard auto --cache-dir "$CACHE" --device "$device" \
  --backend auto --threads "${SLURM_CPUS_PER_TASK:-$CPUS}"
