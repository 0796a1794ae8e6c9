// Dropout with a counter-based mask (see dropout_keeps in layers.h): the
// backward pass regenerates the mask of the forward pass from (seed, step).
#include <cstddef>

#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

namespace {

void apply_mask(std::size_t n, float p, std::uint64_t seed, std::uint64_t step, const float* in, float* out) {
  const std::uint64_t threshold = dropout_threshold(p);
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  const std::ptrdiff_t count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    const bool keep = (rng::counter_hash(seed, step, static_cast<std::uint64_t>(i)) >> 32) >= threshold;
    out[i] = keep ? in[i] * scale : 0.0f;
  }
}

}  // namespace

void dropout_forward(std::size_t n, float p, std::uint64_t seed, std::uint64_t step, const float* x, float* y) {
  apply_mask(n, p, seed, step, x, y);
}

void dropout_backward(std::size_t n, float p, std::uint64_t seed, std::uint64_t step, const float* dy, float* dx) {
  apply_mask(n, p, seed, step, dy, dx);
}

}  // namespace sxb::nn::cpu
