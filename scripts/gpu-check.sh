#!/usr/bin/env bash
# One-shot GPU check for a lent device machine: GPU tests, training and solver
# benchmarks against their targets, a short table. Usage, from the repository root:
#   bash scripts/gpu-bundle.sh     (here: builds .gpu/, binaries plus libraries)
#   device run, carry [".gpu"], timeout_s 590:  bash scripts/gpu-check.sh   (about 4-6 min)
# Without .gpu/ it builds on the machine itself (needs the Debian -dev packages).
# The whole log also goes to $OUT/gpu-check.log when $OUT is set.
set -uo pipefail
GPU_TESTS="test_tile_cuda test_tile_solver_gpu test_tile_eigen_gpu test_nn_cuda test_mapping_cuda test_sparse_forward_cuda test_bn_reestimation_cuda"
cd "$(dirname "$0")/.."
[ -n "${OUT:-}" ] && exec > >(tee "$OUT/gpu-check.log") 2>&1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
date -u +%F

if [ -x .gpu/bin/sparsexbar ]; then
  BIN=.gpu/bin TESTBIN=.gpu/bin
  echo "== carried bundle, revision $(cat .gpu/REVISION)"
  # The CUDA libraries come from the machine's toolkit; our own libraries only
  # for our binaries (python3 and its torch keep the machine's).
  cudalibs=$(dirname "$( (ldconfig -p | awk '/libcublas\.so\.13 /{print $NF}';
    find /usr/local/cuda*/ /usr/lib /opt -name 'libcublas.so.13' 2>/dev/null) | head -1)")
  SXB_LIBS="$PWD/.gpu/lib:$cudalibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "CUDA libraries from: $cudalibs"
  missing=$(LD_LIBRARY_PATH=$SXB_LIBS ldd .gpu/bin/* 2>&1 | grep 'not found' | sort -u)
  [ -n "$missing" ] && echo "MISSING LIBRARIES: $missing"
else
  B=build-gpu BIN=build-gpu TESTBIN=build-gpu/tests SXB_LIBS=${LD_LIBRARY_PATH:-}
  cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DSPARSEXBAR_CUDA=ON -DSPARSEXBAR_BENCH=OFF >/dev/null &&
    cmake --build $B -j"$(nproc)" --target sparsexbar $GPU_TESTS 2>&1 | grep -E 'error|warning' | head -40
fi
sx() { LD_LIBRARY_PATH=$SXB_LIBS "$BIN/sparsexbar" "$@"; }

echo "== GPU tests (tile solver, network engine, W_eff, sparse path, BN re-estimation)"
for t in $GPU_TESTS; do
  LD_LIBRARY_PATH=$SXB_LIBS timeout 180 "$TESTBIN/$t" --gtest_brief=1 2>&1 | tail -15 | sed "s/^/$t: /"
  echo "$t: exit ${PIPESTATUS[0]}"
done

echo "== one training epoch on the synthetic set (10,000 images, batch 128)"
for spec in "cuda 1.0" "cuda 0.25" "cpu 0.25"; do
  set -- $spec
  out=$(mktemp -d)
  sx train --model vgg11 --width "$2" --data synthetic --epochs 1 --device "$1" \
    --out "$out/m.safetensors" 2>&1 | grep -E '^epoch 1/1:|error' | sed "s/^/$1 w$2: /"
  rm -rf "$out"
done

echo "== VGG11 width 1.0, batch 128, training steps on resident inputs: sparsexbar vs PyTorch eager (same GPU)"
for round in 1 2; do
  sx bench train --device cuda --steps 60 --json 2>&1 | tail -1 | sed "s/^/sparsexbar: /"
  python3 scripts/torch_vgg_bench.py --device cuda --images 7680 2>&1 | tail -1 | sed "s/^/pytorch: /"
done

echo "== tile solver: transfer extraction (target: >= 20,000 tiles/s at 64x64, batch 8192, H100)"
printf '%-8s %-10s %-7s %-14s %-14s\n' backend size tiles tiles_per_s s_per_tile
for spec in "cuda 64 8192" "cuda 32 8192" "cuda 128 1024" "cuda 16 8192" "cpu 64 64"; do
  set -- $spec
  out=$(sx bench solver --backend "$1" --rows "$2" --cols "$2" --tiles "$3" --json 2>&1)
  tps=$(echo "$out" | sed -n 's/.*"transfer_tiles_per_s": \([0-9.e+-]*\).*/\1/p')
  spt=$(echo "$out" | sed -n 's/.*"transfer_s_per_tile": \([0-9.e+-]*\).*/\1/p')
  printf '%-8s %-10s %-7s %-14s %-14s\n' "$1" "$2x$2" "$3" "${tps:-ERR}" "${spt:-$(echo "$out" | tail -1)}"
done

echo "== sparse W_eff crossover (cuSPARSE vs cuBLAS)"
sx bench sparse --device cuda 2>&1 | tail -7
echo "== VGG16 w1.0 on 64x64 crossbars (targets: solve <= 1 s, 10k images <= 5 s)"
sx bench network --model vgg16 --width 1.0 --tile 64 --backend cuda --device cuda --images 2048 2>&1 | tail -6
echo "== demo on the GPU"
sx demo --backend cuda --device cuda 2>&1 | tail -8
echo "== a sweep on the GPU (data/sweep_example.json: 12 points, one trained model)"
tmp=$(mktemp -d)
{ time sx sweep run data/sweep_example.json --out "$tmp/out" --cache-dir "$tmp/cache" --device cuda \
  --backend cuda --quiet; } 2>&1 | tail -5
sx sweep merge "$tmp/out" 2>/dev/null | cut -d'|' -f3-9
echo "== XCS pruning of the sweep's model, 1 + 1 epochs on synthetic:2000, cuda then cpu"
dense=$(ls "$tmp"/cache/sweep-models/train-*.safetensors | grep -v ckpt | head -1)
for device in cuda cpu; do
  sx prune --method xcs --sparsity 0.5 --tile 32 --weights "$dense" --data synthetic:2000 --reg-epochs 1 \
    --finetune-epochs 1 --device $device --out "$tmp/xcs-$device" 2>&1 | grep -E '^test accuracy|error' | sed "s/^/$device: /"
done
rm -rf "$tmp"
