// Element-wise clamp into [lo, hi], in place, on the GPU: the formula of
// kernels/nn/cpu/clamp.cpp (exact: the same values bit for bit).
#include "kernels/nn/cuda/common.cuh"
#include "kernels/nn/cuda/layers_cuda.h"

namespace sxb::nn::gpu {

namespace {

__global__ void clamp_kernel(std::size_t n, float lo, float hi, float* __restrict__ x) {
  SXB_GRID_LOOP(i, n) {
    const float v = x[i];
    x[i] = v < lo ? lo : v > hi ? hi : v;  // NaN stays NaN
  }
}

}  // namespace

void clamp(const Queue& q, std::size_t n, float lo, float hi, float* x) {
  cuda::launch(clamp_kernel, blocks_for(n), kThreads, 0, q.stream, n, lo, hi, x);
}

}  // namespace sxb::nn::gpu
