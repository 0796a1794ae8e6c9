#!/usr/bin/env bash
# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, CPU only.
# Usage, from anywhere:  bash scripts/sanitize.sh [extra ctest arguments]
# Builds build-asan/ (gcc by default; CXX=clang++ for clang) and runs ctest
# without the gpu label (no CUDA in this build) and without the data label
# (needs ../shared/data and is slow under ASan). Any sanitizer report makes its test
# fail (halt_on_error, no recovery from UBSan). Exit status: that of ctest.
# The Python module is left out (an instrumented extension cannot load into an
# uninstrumented interpreter): its tests report skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-asan
JOBS=${JOBS:-$(nproc)}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
start=$(date +%s)
cmake -S . -B $B -DSPARSEXBAR_CUDA=OFF -DSPARSEXBAR_BENCH=OFF -DSPARSEXBAR_PYTHON=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1" -DCMAKE_CXX_FLAGS="$SAN" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" "${launcher[@]}" >/dev/null
cmake --build $B -j"$JOBS"
built=$(date +%s)
echo "sanitize: built in $((built - start)) s"
# detect_leaks: OpenMP and OpenBLAS keep their thread pools to exit; a leak in our code still fails.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
set +e
ctest --test-dir $B -j"$JOBS" --output-on-failure -LE 'gpu|data' --timeout 1800 "$@"
rc=$?
echo "sanitize: ctest in $(($(date +%s) - built)) s, exit $rc"
exit $rc
