#include "kernels/common/fma_peak.h"

#include <algorithm>
#include <chrono>

#include "kernels/common/multiversion.h"

namespace sxb::cpu {
namespace {

// kChains independent chains of W-double vectors, each chain one register of
// the clone that runs it: enough chains to cover the latency of two vector
// FMA pipes, few enough that none is spilled (a spilled chain waits on a
// store and a load every iteration, and the "peak" would be too low).
// Returns a value that depends on every chain.
template <int W, int kChains>
SXB_MULTIVERSION double fma_chains(long iterations) {
  double acc[kChains][W];
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < W; ++l) acc[c][l] = 1e-3 * (c * W + l);
  const double x = 0.999999, y = 1e-9;
  for (long k = 0; k < iterations; ++k) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c)
#pragma omp simd
      for (int l = 0; l < W; ++l) acc[c][l] = acc[c][l] * x + y;
  }
  double sum = 0.0;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < W; ++l) sum += acc[c][l];
  return sum;
}

// The chains for this CPU's clone: 16 of 8 doubles in 32 AVX-512 registers,
// 12 of 4 in 16 AVX2 registers, 8 of 2 in 16 SSE2 registers. The
// multiply-adds per iteration come back in `per_iteration`.
double run_chains(long iterations, double& per_iteration) {
  switch (simd_level()) {
    case SimdLevel::avx512: per_iteration = 16 * 8; return fma_chains<8, 16>(iterations);
    case SimdLevel::avx2: per_iteration = 12 * 4; return fma_chains<4, 12>(iterations);
    case SimdLevel::baseline: break;
  }
  per_iteration = 8 * 2;
  return fma_chains<2, 8>(iterations);
}

}  // namespace

double measured_fma_peak(double seconds, int rounds) {
  double per_iteration = 0.0;
  volatile double sink = run_chains(1000, per_iteration);  // warm-up (clock ramp)
  long iterations = 1 << 16;
  double best = 0.0, budget = seconds / std::max(1, rounds);
  for (int r = 0; r < std::max(1, rounds); ++r) {
    double elapsed = 0.0;
    do {  // grow the run until it lasts the round's budget
      const auto t0 = std::chrono::steady_clock::now();
      sink = sink + run_chains(iterations, per_iteration);
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (elapsed < budget / 4) iterations *= 4;
    } while (elapsed < budget / 4);
    best = std::max(best, per_iteration * static_cast<double>(iterations) / elapsed);
  }
  return best;
}

}  // namespace sxb::cpu
