#!/usr/bin/env bash
# One-shot GPU check for a lent device machine: build with CUDA, run the GPU
# tests and the solver benchmarks, print a short table. Usage:
#   bash scripts/gpu-check.sh            (from the repository root)
set -uo pipefail
cd "$(dirname "$0")/.."
B=build-gpu
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
cmake -S . -B $B -DSPARSEXBAR_CUDA=ON -DSPARSEXBAR_BENCH=OFF >/dev/null &&
  cmake --build $B -j"$(nproc)" --target sparsexbar test_tile_cuda test_nn_cuda test_mapping_cuda \
    test_sparse_forward_cuda 2>&1 | grep -E 'error|warning' | head -40
echo "== GPU tests (every test labelled gpu: tile solver, network engine, W_eff, sparse path)"
ctest --test-dir $B -L gpu --output-on-failure 2>&1 | tail -25
echo "== network engine: one training epoch of VGG11 on the synthetic set (10,000 images), cuda then cpu"
for device in cuda cpu; do
  out=$(mktemp -d)
  ./$B/sparsexbar train --model vgg11 --width 0.25 --data synthetic --epochs 1 --device $device \
    --out "$out/m.safetensors" 2>&1 | grep -E '^epoch 1/1:|error' | sed "s/^/$device: /"
  rm -rf "$out"
done
echo "== VGG11 width 1.0, batch 128, training steps on resident inputs: sparsexbar vs PyTorch eager (same GPU)"
for round in 1 2; do
  ./$B/sparsexbar bench train --device cuda --steps 60 --json 2>&1 | tail -1 | sed "s/^/sparsexbar: /"
  python3 scripts/torch_vgg_bench.py --device cuda --images 7680 2>&1 | tail -1 | sed "s/^/pytorch: /"
done
echo "== benchmarks"
printf '%-8s %-10s %-7s %-14s %-14s\n' backend size tiles tiles_per_s s_per_tile
for spec in "cuda 64 8192" "cuda 32 8192" "cuda 128 1024" "cuda 16 8192" "cpu 64 64"; do
  set -- $spec
  out=$(./$B/sparsexbar bench solver --backend "$1" --rows "$2" --cols "$2" --tiles "$3" --json 2>&1)
  tps=$(echo "$out" | sed -n 's/.*"transfer_tiles_per_s": \([0-9.e+-]*\).*/\1/p')
  spt=$(echo "$out" | sed -n 's/.*"transfer_s_per_tile": \([0-9.e+-]*\).*/\1/p')
  printf '%-8s %-10s %-7s %-14s %-14s\n' "$1" "$2x$2" "$3" "${tps:-ERR}" "${spt:-$(echo "$out" | tail -1)}"
done
echo "== sparse W_eff crossover (cuSPARSE vs cuBLAS) and a VGG16 network on crossbars"
./$B/sparsexbar bench sparse --device cuda | tail -7
./$B/sparsexbar bench network --model vgg16 --width 1.0 --tile 64 --backend cuda --device cuda --images 2048 | tail -4
./$B/sparsexbar demo --backend cuda | tail -2
