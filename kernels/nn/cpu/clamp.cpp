// Element-wise clamp into [lo, hi], in place (weight-constrained training).
#include <cstddef>

#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

void clamp(std::size_t n, float lo, float hi, float* x) {
  const std::ptrdiff_t count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    const float v = x[i];
    x[i] = v < lo ? lo : v > hi ? hi : v;  // comparisons with NaN are false: NaN stays
  }
}

}  // namespace sxb::nn::cpu
