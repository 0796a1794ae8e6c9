#!/usr/bin/env bash
# The pruning and mitigation study (docs/results.md): train a dense VGG11,
# prune it with C/F, XCS and XRS at several sparsities, fine-tune the most
# pruned ones with weight-constrained training, and evaluate every model on
# non-ideal crossbars, uncalibrated and with each read-out calibration and
# batch-norm re-estimation (one solve per evaluation), under each
# column-rearrangement policy. Every step skips outputs that already exist, so
# an interrupted study resumes. Then scripts/study_tables.py turns the evaluate
# reports ($OUT/eval/*.json) into the tables and the figure of docs/results.md.
#
#   bash scripts/study.sh                       # built-in synthetic set
#   DATA=folder:/path/cifar10-jpeg bash scripts/study.sh
#
# With a usable NVIDIA GPU (nvidia-smi lists one) the defaults become the
# full-width study: WIDTH 1.0, DEVICE cuda (training, pruning, inference and
# the tile solver on the GPU); without one, WIDTH 0.25 on the CPU.
#
# Knobs (environment): OUT, BIN, DATA, PRUNE_DATA (training data of the
# pruning/WCT phases, default DATA), EVAL_DATA (test data of evaluate, default
# DATA), WIDTH, EPOCHS, LR, SPARSITIES, HIGH (the sparsity of the mitigation
# study), TILES, REG_EPOCHS, FT_EPOCHS, KAPPAS, WCT_EPOCHS, POLICIES,
# SEARCH_BUDGET, EXTRA (spread: extra crossbars per layer), CALIBRATIONS
# (evaluate --calibration), BN_IMAGES (evaluate --bn-recalibrate; 0: off),
# DEVICE (cpu, cuda or auto), PRESET (crossbar preset of evaluate; reports go
# to $OUT/eval, or $OUT/eval-$PRESET for another preset), STAGES (any of:
# train prune wct eval).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/sparsexbar}
DATA=${DATA:-synthetic}
PRUNE_DATA=${PRUNE_DATA:-$DATA}
EVAL_DATA=${EVAL_DATA:-$DATA}
OUT=${OUT:-study-$(echo "$DATA" | tr ':/' '__')}
if nvidia-smi -L 2>/dev/null | grep -q GPU; then GPU=1; else GPU=0; fi
DEVICE=${DEVICE:-$([ "$GPU" = 1 ] && echo cuda || echo cpu)}
WIDTH=${WIDTH:-$([ "$GPU" = 1 ] && echo 1.0 || echo 0.25)}
EPOCHS=${EPOCHS:-15}
LR=${LR:-0.05}
SPARSITIES=${SPARSITIES:-"0.5 0.75 0.9"}
HIGH=${HIGH:-0.75}
TILES=${TILES:-"32 64"}
REG_EPOCHS=${REG_EPOCHS:-1}
FT_EPOCHS=${FT_EPOCHS:-2}
KAPPAS=${KAPPAS:-"0.5 0.25"}
WCT_EPOCHS=${WCT_EPOCHS:-1}
POLICIES=${POLICIES:-"spread sort balance"}
EXTRA=${EXTRA:-0.25}
CALIBRATIONS=${CALIBRATIONS:-none,column,layer}
BN_IMAGES=${BN_IMAGES:-512}
SEARCH_BUDGET=${SEARCH_BUDGET:-30}
STAGES=${STAGES:-"train prune wct eval"}
PRESET=${PRESET:-default}
E=$OUT/eval; [ "$PRESET" = default ] || E=$OUT/eval-$PRESET
mkdir -p "$OUT"/{models,logs} "$E"
M=$OUT/models
log() { echo "[$(date -u +%T)] $*" >&2; }
stage() { [[ " $STAGES " == *" $1 "* ]]; }

# --- dense model ----------------------------------------------------------------
if stage train && [ ! -f "$M/dense.safetensors" ]; then
  log "training the dense vgg11 width $WIDTH ($EPOCHS epochs)"
  resume=(); [ -f "$M/dense.ckpt.safetensors" ] && resume=(--resume)
  "$BIN" train --model vgg11 --width "$WIDTH" --data "$DATA" --epochs "$EPOCHS" --lr "$LR" --seed 1 \
    --device "$DEVICE" --out "$M/dense.safetensors" "${resume[@]}" > "$OUT/logs/dense.log" 2>&1
fi

# --- pruned models: name <method>-<sparsity>-t<tile> ----------------------------------
# C/F removes whole filters, so one model serves every tile size (pruned at 32).
prune() {  # method sparsity tile [extra args...]
  local name=$1-$2-t$3
  [ -f "$M/$name.safetensors" ] && return 0
  log "pruning $name"
  local resume=(); [ -f "$M/$name.prune.json" ] && resume=(--resume)
  "$BIN" prune --method "$1" --sparsity "$2" --tile "$3" --weights "$M/dense.safetensors" --data "$PRUNE_DATA" \
    --reg-epochs "$REG_EPOCHS" --finetune-epochs "$FT_EPOCHS" --lr 0.01 --device "$DEVICE" --out "$M/$name" "${resume[@]}" \
    > "$OUT/logs/$name.log" 2>&1 || { log "prune $name failed: $(tail -1 "$OUT/logs/$name.log")"; return 1; }
}
if stage prune; then
  for s in $SPARSITIES; do
    prune cf "$s" 32
    for t in $TILES; do prune xcs "$s" "$t"; prune xrs "$s" "$t"; done
  done
fi

# --- weight-constrained fine-tuning of the dense and the HIGH-sparsity models ---------
# Dense and C/F (no zero groups to keep): train --init; XCS/XRS: prune again
# from the pruned model with no group-lasso epochs (the zero groups rank
# first, so the masks are the same) and WCT fine-tuning.
if stage wct; then
  for k in $KAPPAS; do
    for base in dense "cf-$HIGH-t32"; do
      name=$base-wct$k
      [ -f "$M/$name.safetensors" ] && continue
      [ -f "$M/$base.safetensors" ] || continue
      log "WCT fine-tuning $name"
      "$BIN" train --model vgg11 --width "$WIDTH" --init "$M/$base.safetensors" --data "$PRUNE_DATA" --epochs "$WCT_EPOCHS" \
        --lr 0.005 --wct-kappa "$k" --device "$DEVICE" --out "$M/$name.safetensors" > "$OUT/logs/$name.log" 2>&1 ||
        log "WCT $name failed: $(tail -1 "$OUT/logs/$name.log")"
    done
    for method in xcs xrs; do
      for t in $TILES; do
        base=$method-$HIGH-t$t name=$method-$HIGH-t$t-wct$k
        [ -f "$M/$name.safetensors" ] && continue
        [ -f "$M/$base.safetensors" ] || continue
        log "WCT fine-tuning $name"
        "$BIN" prune --method "$method" --sparsity "$HIGH" --tile "$t" --weights "$M/$base.safetensors" \
          --data "$PRUNE_DATA" --reg-epochs 0 --finetune-epochs "$WCT_EPOCHS" --lr 0.005 --wct-kappa "$k" --device "$DEVICE" \
          --out "$M/$name" > "$OUT/logs/$name.log" 2>&1 || log "WCT $name failed: $(tail -1 "$OUT/logs/$name.log")"
      done
    done
  done
fi

# --- evaluation: every model of the mitigation study, each tile size, each policy -----
evaluate() {  # model-name tile policy
  local model=$1 tile=$2 policy=$3 out=$E/$1-t$2-$3.json
  [ -f "$out" ] && return 0
  [ -f "$M/$model.safetensors" ] || return 0
  local layout=()
  # XCS/XRS tiles are packed for one tile size; a C/F model is a smaller dense
  # model that maps onto any tile size.
  [[ $model == xcs-* || $model == xrs-* ]] && layout=(--layout "$M/$model.layout.json")
  local extra=(); [ "$policy" = spread ] && extra=(--rearrange-extra "$EXTRA")
  log "evaluating $model at ${tile}x$tile, rearrangement $policy"
  "$BIN" evaluate --model vgg11 --weights "$M/$model.safetensors" --data "$EVAL_DATA" --tile "$tile" --set "preset=$PRESET" \
    "${layout[@]}" --unpruned "$M/dense.safetensors" --rearrange "$policy" --rearrange-budget "$SEARCH_BUDGET" \
    "${extra[@]}" --calibration "$CALIBRATIONS" --bn-recalibrate "$BN_IMAGES" --nf-by-source --device "$DEVICE" \
    --json "$out" --quiet > "$OUT/logs/eval-$PRESET-$model-t$tile-$policy.log" 2>&1 ||
    log "evaluate $model t$tile $policy failed: $(tail -1 "$OUT/logs/eval-$PRESET-$model-t$tile-$policy.log")"
}
if stage eval; then
  for t in $TILES; do
    models="dense cf-$HIGH-t32 xcs-$HIGH-t$t xrs-$HIGH-t$t"
    for k in $KAPPAS; do models+=" dense-wct$k cf-$HIGH-t32-wct$k xcs-$HIGH-t$t-wct$k xrs-$HIGH-t$t-wct$k"; done
    for model in $models; do
      for p in $POLICIES; do evaluate "$model" "$t" "$p"; done
      [[ -n "$POLICIES" ]] || evaluate "$model" "$t" none
    done
    # Every model as given (rearrangement none): CCR and the read-out variants.
    evaluate dense "$t" none
    for s in $SPARSITIES; do
      for model in "cf-$s-t32" "xcs-$s-t$t" "xrs-$s-t$t"; do evaluate "$model" "$t" none; done
    done
  done
fi
log "done: $OUT (tables: python3 scripts/study_tables.py $E)"
