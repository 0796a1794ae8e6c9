// Kernel launch helper: always on an explicit stream, a no-op for zero
// blocks, and launch errors become sxb::Error.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <limits>

#include "kernels/common/cuda_check.h"

namespace sxb::cuda {

template <typename... KernelArgs, typename... Args>
void launch(void (*kernel)(KernelArgs...), std::size_t blocks, int threads_per_block, std::size_t shared_bytes,
            cudaStream_t stream, Args&&... args) {
  if (blocks == 0) return;
  SXB_REQUIRE(blocks <= static_cast<std::size_t>(std::numeric_limits<int>::max()),
              "CUDA launch: too many blocks in one grid");
  kernel<<<static_cast<unsigned>(blocks), threads_per_block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  SXB_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sxb::cuda
