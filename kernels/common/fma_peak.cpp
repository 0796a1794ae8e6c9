#include "kernels/common/fma_peak.h"

#include <algorithm>
#include <chrono>

#include "kernels/common/multiversion.h"

namespace sxb::cpu {
namespace {

// 16 chains of 8 lanes: enough independent FMAs to cover the latency of two
// vector FMA pipes. Returns a value that depends on every chain.
SXB_MULTIVERSION double fma_chains(long iterations) {
  constexpr int kChains = 16, kLanes = 8;
  double acc[kChains][kLanes];
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kLanes; ++l) acc[c][l] = 1e-3 * (c * kLanes + l);
  const double x = 0.999999, y = 1e-9;
  for (long k = 0; k < iterations; ++k) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c)
#pragma omp simd
      for (int l = 0; l < kLanes; ++l) acc[c][l] = acc[c][l] * x + y;
  }
  double sum = 0.0;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kLanes; ++l) sum += acc[c][l];
  return sum;
}

}  // namespace

double measured_fma_peak(double seconds, int rounds) {
  constexpr double kFmaPerIteration = 16.0 * 8.0;
  volatile double sink = fma_chains(1000);  // warm-up (clock ramp)
  long iterations = 1 << 16;
  double best = 0.0, budget = seconds / std::max(1, rounds);
  for (int r = 0; r < std::max(1, rounds); ++r) {
    double elapsed = 0.0;
    do {  // grow the run until it lasts the round's budget
      const auto t0 = std::chrono::steady_clock::now();
      sink = sink + fma_chains(iterations);
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (elapsed < budget / 4) iterations *= 4;
    } while (elapsed < budget / 4);
    best = std::max(best, kFmaPerIteration * static_cast<double>(iterations) / elapsed);
  }
  return best;
}

}  // namespace sxb::cpu
