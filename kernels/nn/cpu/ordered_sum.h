// Thread-count-independent reduction over batch chunks (internal to the CPU
// nn kernels).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>

#include "kernels/nn/cpu/scratch.h"

namespace sxb::nn::cpu {

// Batch chunk size of the linear layer's ordered reduction (conv2d picks its
// own from the layer shape): fixed, so that the summation order (and hence
// every bit of the result) never follows the thread count.
inline constexpr int kLinearBatchChunk = 32;

// Elements per block of the final sum.
inline constexpr std::ptrdiff_t kSumBlock = 4096;

// out[0..out_size) = ((P_0 + P_1) + P_2) + ..., where chunk c covers items
// [c*chunk, min((c+1)*chunk, n_items)) and partial(first, last, buffer)
// overwrites `buffer` (out_size floats) with P_c. Partials are computed in
// parallel in waves of at most one per thread, so memory grows with the thread
// count but the sum does not depend on it. partial() runs inside an OpenMP
// parallel region, where OpenBLAS (OpenMP build) runs single-threaded.
template <class Partial>
void ordered_chunk_sum(int n_items, int chunk, std::size_t out_size, float* out, Partial&& partial) {
  const int n_chunks = n_items > 0 ? (n_items + chunk - 1) / chunk : 0;
  if (n_chunks == 0) {
    std::fill(out, out + out_size, 0.0f);
    return;
  }
  const int slots = std::max(1, std::min(n_chunks, omp_get_max_threads()));
  float* buffers = scratch(Scratch::Partials, static_cast<std::size_t>(slots) * out_size);
  const std::ptrdiff_t size = static_cast<std::ptrdiff_t>(out_size);
#pragma omp parallel
  {
    for (int wave = 0; wave < n_chunks; wave += slots) {
      const int in_wave = std::min(slots, n_chunks - wave);
#pragma omp for schedule(static, 1)
      for (int k = 0; k < in_wave; ++k) {
        const int c = wave + k;
        partial(c * chunk, std::min(n_items, (c + 1) * chunk), buffers + k * out_size);
      }
#pragma omp for schedule(static)
      for (std::ptrdiff_t block = 0; block < size; block += kSumBlock) {
        // ((out + P_0) + P_1) + ... element-wise, a cache-sized block at a time.
        float* __restrict o = out + block;
        const std::ptrdiff_t len = std::min(kSumBlock, size - block);
        for (int k = 0; k < in_wave; ++k) {
          const float* __restrict b = buffers + k * out_size + block;
          if (wave == 0 && k == 0)
            std::copy(b, b + len, o);
          else
            for (std::ptrdiff_t i = 0; i < len; ++i) o[i] += b[i];
        }
      }
    }
  }
}

}  // namespace sxb::nn::cpu
