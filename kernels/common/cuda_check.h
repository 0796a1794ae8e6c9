// Host-side CUDA error checking: every runtime call goes through
// SXB_CUDA_CHECK, which throws sxb::Error naming the failing call and where.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "kernels/common/error.h"

namespace sxb::cuda {

// "CUDA error in <call>: <description> (<code name>)".
inline std::string describe_cuda_error(cudaError_t code, const char* call) {
  return std::string("CUDA error in ") + call + ": " + cudaGetErrorString(code) + " (" + cudaGetErrorName(code) + ")";
}

}  // namespace sxb::cuda

#define SXB_CUDA_CHECK(call)                                                               \
  do {                                                                                     \
    const cudaError_t sxb_cuda_status_ = (call);                                           \
    if (sxb_cuda_status_ != cudaSuccess) {                                                 \
      (void)cudaGetLastError(); /* clear a non-sticky error so later calls start clean */ \
      throw ::sxb::Error(::sxb::cuda::describe_cuda_error(sxb_cuda_status_, #call) +       \
                             " at " __FILE__ ":" + std::to_string(__LINE__),               \
                         __FILE__, __LINE__);                                              \
    }                                                                                      \
  } while (0)
