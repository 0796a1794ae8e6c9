// 2x2 max-pool, stride 2, on the GPU: one thread per output (forward) or per
// input (backward, a gather: no zero-fill pass, no atomics). Tie and NaN rules
// as kernels/nn/cpu/pool.cpp.
#include "kernels/nn/cuda/common.cuh"
#include "kernels/nn/cuda/layers_cuda.h"

namespace sxb::nn::gpu {

namespace {

__global__ void max_pool_forward_kernel(PoolShape s, const float* __restrict__ x, float* __restrict__ y,
                                        std::int32_t* __restrict__ argmax) {
  const int H = s.height, W = s.width, Ho = s.height / 2, Wo = s.width / 2;
  const std::size_t total = static_cast<std::size_t>(s.batch) * s.channels * Ho * Wo;
  SXB_GRID_LOOP(o, total) {
    const std::size_t plane = o / (static_cast<std::size_t>(Ho) * Wo);
    const int r = static_cast<int>(o % (static_cast<std::size_t>(Ho) * Wo));
    const int oh = r / Wo, ow = r % Wo;
    const float* in = x + plane * H * W;
    // Window in row-major order; strictly greater (or NaN) replaces.
    const int taps[4] = {2 * oh * W + 2 * ow, 2 * oh * W + 2 * ow + 1, (2 * oh + 1) * W + 2 * ow,
                         (2 * oh + 1) * W + 2 * ow + 1};
    int best = taps[0];
    for (int t = 1; t < 4; ++t) {
      const float v = in[taps[t]];
      if (v > in[best] || isnan(v)) best = taps[t];
    }
    y[o] = in[best];
    argmax[o] = best;
  }
}

__global__ void max_pool_backward_kernel(PoolShape s, const float* __restrict__ dy,
                                         const std::int32_t* __restrict__ argmax, float* __restrict__ dx) {
  const int H = s.height, W = s.width, Ho = s.height / 2, Wo = s.width / 2;
  const std::size_t total = static_cast<std::size_t>(s.batch) * s.channels * H * W;
  SXB_GRID_LOOP(i, total) {
    const std::size_t plane = i / (static_cast<std::size_t>(H) * W);
    const int pos = static_cast<int>(i % (static_cast<std::size_t>(H) * W));
    const int oh = pos / W / 2, ow = pos % W / 2;
    float g = 0.0f;
    if (oh < Ho && ow < Wo) {  // an odd last row/column belongs to no window
      const std::size_t o = plane * Ho * Wo + static_cast<std::size_t>(oh) * Wo + ow;
      if (argmax[o] == pos) g = dy[o];
    }
    dx[i] = g;
  }
}

}  // namespace

void max_pool2x2_forward(const Queue& q, const PoolShape& s, const float* x, float* y, std::int32_t* argmax) {
  const std::size_t total = static_cast<std::size_t>(s.batch) * s.channels * s.out_height() * s.out_width();
  cuda::launch(max_pool_forward_kernel, blocks_for(total), kThreads, 0, q.stream, s, x, y, argmax);
}

void max_pool2x2_backward(const Queue& q, const PoolShape& s, const float* dy, const std::int32_t* argmax,
                          float* dx) {
  const std::size_t total = static_cast<std::size_t>(s.batch) * s.channels * s.height * s.width;
  cuda::launch(max_pool_backward_kernel, blocks_for(total), kThreads, 0, q.stream, s, dy, argmax, dx);
}

}  // namespace sxb::nn::gpu
