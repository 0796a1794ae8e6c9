#!/usr/bin/env bash
# The paper-scale study of docs/results.md: a thin wrapper over the sweep files
# of data/studies/ (written by scripts/paper_studies.py). For each study it runs
# `sparsexbar sweep run` (resumable: finished points are skipped, an
# interrupted training continues from its checkpoint), merges the results into
# docs/results/<study>.csv, and at the end regenerates the tables and figures
# of docs/results.md (scripts/study_report.py).
#
#   bash scripts/study.sh                      # every study, in priority order
#   bash scripts/study.sh paper-vgg11-cifar10  # one of them
#
# Environment: BIN (default build/sparsexbar), DATA_ROOT (where the data
# folders named by the study files are; default $SPARSEXBAR_DATA, else
# ~/.cache/sparsexbar/data, where the CIFAR archives of ../shared/data are
# unpacked when missing), RESULTS (default docs/results), DEVICE (cpu, cuda or
# auto; default auto), SHARD (k/N or auto, default 0/1), CACHE (models and
# W_eff; default sparsexbar's cache). Ctrl-C or SIGTERM stops the running
# sweep at a checkpoint; run the same command again to continue. Dense models
# and training checkpoints saved in data/study-models/ (scripts/study_state.py
# save) are restored into the cache first, so a fresh machine continues where
# the saved state ends.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/sparsexbar}
DATA_ROOT=${DATA_ROOT:-${SPARSEXBAR_DATA:-$HOME/.cache/sparsexbar/data}}
RESULTS=${RESULTS:-docs/results}
DEVICE=${DEVICE:-auto}
SHARD=${SHARD:-0/1}
SHARED=${SHARED:-../shared/data}
# The circuit search first (it finds the milder circuit on the dense VGG11 / CIFAR-10 model),
# then the studies in the order the issue asks for when time is short.
STUDIES=("$@")
[ ${#STUDIES[@]} -gt 0 ] || STUDIES=(circuit-search-vgg11-cifar10 paper-vgg11-cifar10 converters-vgg11-cifar10 paper-vgg11-cifar100
                                     paper-vgg16-cifar10 paper-vgg16-cifar100)
log() { echo "[$(date -u +%T)] $*" >&2; }

mkdir -p "$DATA_ROOT" "$RESULTS"
for set in cifar10 cifar100; do
  if [ ! -d "$DATA_ROOT/$set-jpeg" ] && [ -f "$SHARED/$set-jpeg.tar.gz" ]; then
    log "unpacking $SHARED/$set-jpeg.tar.gz into $DATA_ROOT"
    tar xzf "$SHARED/$set-jpeg.tar.gz" -C "$DATA_ROOT"
  fi
done

cache=(); [ -n "${CACHE:-}" ] && cache=(--cache-dir "$CACHE")
if [ -f data/study-models/MANIFEST.json ]; then
  state=(); [ -n "${CACHE:-}" ] && state=(--cache "$CACHE")
  python3 scripts/study_state.py restore "${state[@]}"
fi
stop=0 child=0
trap 'stop=1; [ "$child" != 0 ] && kill -TERM "$child" 2>/dev/null || true' INT TERM
for name in "${STUDIES[@]}"; do
  file=data/studies/$name.json
  [ -f "$file" ] || { log "no study file $file"; exit 2; }
  log "study $name"
  "$BIN" sweep run "$file" --out "$RESULTS/$name" --data-root "$DATA_ROOT" --device "$DEVICE" --shard "$SHARD" \
    "${cache[@]}" &
  child=$!
  status=0; wait "$child" || status=$?
  # A signal while waiting returns early: wait for the sweep to write its checkpoint.
  while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done
  child=0
  if [ -n "$(find "$RESULTS/$name" -name 'results.*.jsonl' -size +0 2>/dev/null)" ]; then  # a finished point
    "$BIN" sweep merge "$RESULTS/$name" --csv "$RESULTS/$name.csv" > /dev/null
  fi
  [ "$stop" = 0 ] || { log "stopped; run the same command again to continue"; exit 1; }
  [ "$status" = 0 ] || log "sweep $name exited with $status (failed points run again on the next start)"
done
python3 scripts/study_report.py --csv-dir "$RESULTS" --figures docs/figures --results-md docs/results.md
log "done: $RESULTS/*.csv, docs/results.md"
