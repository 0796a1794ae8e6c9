// ReLU, element-wise.
#include <cstddef>

#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

void relu_forward(std::size_t n, const float* x, float* y) {
  const std::ptrdiff_t count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for simd schedule(static)
  for (std::ptrdiff_t i = 0; i < count; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(std::size_t n, const float* y, const float* dy, float* dx) {
  const std::ptrdiff_t count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for simd schedule(static)
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    const float g = dy[i];  // loaded unconditionally: a select, not a branch
    dx[i] = y[i] > 0.0f ? g : 0.0f;
  }
}

}  // namespace sxb::nn::cpu
