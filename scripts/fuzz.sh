#!/usr/bin/env bash
# Fuzzes the input readers (tests/fuzz): builds build-fuzz/ with clang
# (libFuzzer + ASan + UBSan), replays the seed corpus and the saved
# regressions, then runs every target for SECONDS (default 60) each.
# Usage, from anywhere:
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]   e.g.  bash scripts/fuzz.sh 600 fuzz_safetensors
#   bash scripts/fuzz.sh --seeds                 rewrites tests/fuzz/corpus/ from the project's writers
# New interesting inputs go to build-fuzz/corpus/<target>/ (not the repository);
# crashes, leaks, timeouts and out-of-memory inputs to build-fuzz/findings/<target>/.
# Fuzzing goes on after a finding (fork mode) so one run collects several; the
# exit status is non-zero when any target found something or a regression fails.
set -uo pipefail
cd "$(dirname "$0")/.."
B=build-fuzz
ALL="fuzz_safetensors fuzz_crossbar_config fuzz_tile_json fuzz_layout_json fuzz_sweep_file fuzz_cifar fuzz_image"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
start=$(date +%s)
cmake -S . -B $B -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++}" -DSPARSEXBAR_FUZZ=ON -DSPARSEXBAR_CUDA=OFF \
  -DSPARSEXBAR_TESTS=OFF -DSPARSEXBAR_BENCH=OFF -DSPARSEXBAR_PYTHON=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" "${launcher[@]}" >/dev/null || exit 2
if [ "${1:-}" = "--seeds" ]; then
  cmake --build $B -j"${JOBS:-$(nproc)}" --target fuzz_make_corpus || exit 2
  rm -rf tests/fuzz/corpus && $B/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus . && du -sh tests/fuzz/corpus
  exit $?
fi
cmake --build $B -j"${JOBS:-$(nproc)}" --target fuzz_targets || exit 2
echo "fuzz: built in $(($(date +%s) - start)) s"
SECONDS_EACH=${1:-60}
shift || true
TARGETS=${*:-$ALL}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export TMPDIR=$PWD/$B  # the targets' scratch files

# Per-format input limits: a few CIFAR records, a small image, small JSON files.
max_len() {
  case $1 in
    fuzz_cifar) echo 12400 ;;
    fuzz_image) echo 16384 ;;
    fuzz_tile_json | fuzz_layout_json) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

# The JSON readers (and the safetensors header) get a dictionary of JSON tokens, keys and edge numbers.
dict() {
  case $1 in
    fuzz_cifar | fuzz_image) ;;
    *) echo "-dict=tests/fuzz/json.dict" ;;
  esac
}

status=0
# The saved reproducers and the seeds: a reproducer that still fails is an open finding.
(cd $B && ctest -L fuzz --output-on-failure -R "$(echo "$TARGETS" | tr ' ' '|')") || status=1
for t in $TARGETS; do
  mkdir -p $B/corpus/$t $B/findings/$t
  before=$(ls $B/findings/$t | wc -l)
  t0=$(date +%s)
  $B/tests/fuzz/$t -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -max_total_time="$SECONDS_EACH" -max_len="$(max_len $t)" $(dict $t) -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=$B/findings/$t/ $B/corpus/$t tests/fuzz/corpus/$t >$B/findings/$t.log 2>&1
  rc=$?
  found=$(($(ls $B/findings/$t | wc -l) - before))
  execs=$(grep -oE 'exec/s:? [0-9]+' $B/findings/$t.log | tail -1)
  echo "fuzz: $t: $(($(date +%s) - t0)) s, $execs, corpus $(ls $B/corpus/$t | wc -l), new findings $found (log $B/findings/$t.log)"
  if [ "$found" -gt 0 ] || [ $rc -ne 0 ]; then status=1; fi
done
[ $status -eq 0 ] && echo "fuzz: no findings" || echo "fuzz: FINDINGS in $B/findings/ (save reproducers to tests/fuzz/regressions/<target>/)"
exit $status
