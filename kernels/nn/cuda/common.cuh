// Device-side helpers of the CUDA layer kernels (kernels/nn/cuda/*.cu only):
// grid sizes for element-wise kernels and a deterministic block reduction.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>

#include "kernels/common/launch.cuh"

namespace sxb::nn::gpu {

inline constexpr int kThreads = 256;           // element-wise kernels
inline constexpr int kReduceThreads = 256;     // block reductions: a power of two, fixed
inline constexpr std::size_t kMaxBlocks = 1 << 16;  // grid-stride loops beyond this

// Blocks for n elements, one per thread, capped (kernels loop with a grid stride).
inline std::size_t blocks_for(std::size_t n) {
  return std::min<std::size_t>((n + kThreads - 1) / kThreads, kMaxBlocks);
}

// Grid-stride loop over [0, n).
#define SXB_GRID_LOOP(i, n)                                                                    \
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)

// Sum of every thread's `value` over a block of kReduceThreads threads, as a
// fixed binary tree (the same bits on every run). Every thread of the block
// must call it; all get the total. `scratch` holds kReduceThreads doubles.
__device__ inline double block_sum(double value, double* scratch) {
  const unsigned t = threadIdx.x;
  scratch[t] = value;
  __syncthreads();
  for (unsigned half = kReduceThreads / 2; half > 0; half /= 2) {
    if (t < half) scratch[t] += scratch[t + half];
    __syncthreads();
  }
  const double total = scratch[0];
  __syncthreads();  // scratch may be reused at once
  return total;
}

}  // namespace sxb::nn::gpu
