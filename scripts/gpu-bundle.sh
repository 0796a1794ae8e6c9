#!/usr/bin/env bash
# Build the CUDA binaries here and pack them, with the shared libraries the
# device machine's image lacks (OpenBLAS, fmt, stb, libjpeg, OpenSSL's libcrypto, the
# GCC runtimes, cudart), into .gpu/ for scripts/gpu-check.sh to run there.
# cuBLAS, cuBLASLt, cuSPARSE and nvJitLink (about 850 MB) stay behind: the
# device's CUDA 13 toolkit has them. Usage, from the repository root:
#   bash scripts/gpu-bundle.sh [BUILD_DIR]      (default build-gpu)
# then call the device tool with carry [".gpu"] and `bash scripts/gpu-check.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-gpu}
TESTS="test_tile_cuda test_tile_solver_gpu test_tile_eigen_gpu test_nn_cuda test_mapping_cuda test_sparse_forward_cuda test_bn_reestimation_cuda"

grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DSPARSEXBAR_CUDA=ON -DSPARSEXBAR_BENCH=OFF >/dev/null
cmake --build "$B" -j"$(nproc)" --target sparsexbar $TESTS

rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib
for exe in "$B/sparsexbar" $(printf "$B/tests/%s " $TESTS); do
  strip -o ".gpu/bin/$(basename "$exe")" "$exe"
done
# Every library the binaries load, but glibc's own and the big CUDA libraries.
ldd .gpu/bin/* | awk '/=> \//{print $1, $3}' | sort -u | while read -r soname path; do
  case "$soname" in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*) ;;
    libcublas*|libcusparse*|libnvJitLink*) ;;
    *) cp -L "$path" ".gpu/lib/$soname" ;;
  esac
done
git rev-parse --short HEAD >.gpu/REVISION 2>/dev/null || echo unknown >.gpu/REVISION
echo "bundle .gpu/ ($(du -sh .gpu | cut -f1), revision $(cat .gpu/REVISION)):"
ls .gpu/bin .gpu/lib | tr '\n' ' '
echo
