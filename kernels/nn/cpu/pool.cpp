// 2x2 max-pool, stride 2, with arg-max indices for the backward pass.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

void max_pool2x2_forward(const PoolShape& s, const float* x, float* y, std::int32_t* argmax) {
  const int H = s.height, W = s.width, Ho = s.out_height(), Wo = s.out_width();
  const std::ptrdiff_t planes = static_cast<std::ptrdiff_t>(s.batch) * s.channels;
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t p = 0; p < planes; ++p) {
    const float* in = x + p * H * W;
    float* out = y + p * Ho * Wo;
    std::int32_t* index = argmax + p * Ho * Wo;
    for (int oh = 0; oh < Ho; ++oh) {
      for (int ow = 0; ow < Wo; ++ow) {
        // Window in row-major order; strictly greater (or NaN) replaces, so
        // the first of equal maxima wins, as PyTorch's CPU kernel.
        const int taps[4] = {2 * oh * W + 2 * ow, 2 * oh * W + 2 * ow + 1, (2 * oh + 1) * W + 2 * ow,
                             (2 * oh + 1) * W + 2 * ow + 1};
        int best = taps[0];
        for (int t = 1; t < 4; ++t) {
          const float v = in[taps[t]];
          if (v > in[best] || std::isnan(v)) best = taps[t];
        }
        out[oh * Wo + ow] = in[best];
        index[oh * Wo + ow] = best;
      }
    }
  }
}

void max_pool2x2_backward(const PoolShape& s, const float* dy, const std::int32_t* argmax, float* dx) {
  const int H = s.height, W = s.width, Ho = s.out_height(), Wo = s.out_width();
  const std::ptrdiff_t planes = static_cast<std::ptrdiff_t>(s.batch) * s.channels;
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t p = 0; p < planes; ++p) {
    float* grad_in = dx + p * H * W;
    std::fill(grad_in, grad_in + H * W, 0.0f);
    const float* grad_out = dy + p * Ho * Wo;
    const std::int32_t* index = argmax + p * Ho * Wo;
    // Windows do not overlap: each input receives at most one output gradient.
    for (int o = 0; o < Ho * Wo; ++o) grad_in[index[o]] = grad_out[o];
  }
}

}  // namespace sxb::nn::cpu
