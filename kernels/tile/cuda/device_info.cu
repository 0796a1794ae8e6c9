// Probes the GPU once per process; every failure becomes `reason`, never an
// exception or an abort.
#include <cuda_runtime_api.h>

#include <exception>
#include <string>

#include "kernels/common/cuda_check.h"
#include "kernels/tile/cuda/tile_kernel.h"
#include "kernels/tile/cuda/cuda_backend.h"

namespace sxb::cuda {

namespace {

// Returns false and fills info.reason if `code` is an error.
bool ok(cudaError_t code, const char* call, DeviceInfo& info) {
  if (code == cudaSuccess) return true;
  (void)cudaGetLastError();
  info.reason = "no usable CUDA device (" + describe_cuda_error(code, call) + ")";
  return false;
}

DeviceInfo probe() noexcept {
  DeviceInfo info;
  try {
    int count = 0;
    if (!ok(cudaGetDeviceCount(&count), "cudaGetDeviceCount", info)) return info;
    if (count <= detail::kDevice) {
      info.reason = "no CUDA device found";
      return info;
    }
    cudaDeviceProp prop{};
    if (!ok(cudaGetDeviceProperties(&prop, detail::kDevice), "cudaGetDeviceProperties", info)) return info;
    info.name = prop.name;
    if (!ok(cudaSetDevice(detail::kDevice), "cudaSetDevice", info)) return info;
    if (!ok(cudaMemGetInfo(&info.free_bytes, &info.total_bytes), "cudaMemGetInfo", info)) return info;
    if (std::string problem = detail::tile_kernel_problem(); !problem.empty()) {
      info.reason = info.name + ": " + problem;
      return info;
    }
    info.available = true;
  } catch (const std::exception& e) {
    info.available = false;
    info.reason = std::string("probing the GPU failed: ") + e.what();
  } catch (...) {
    info.available = false;
    info.reason = "probing the GPU failed with an unknown exception";
  }
  return info;
}

}  // namespace

const DeviceInfo& device_info() {
  static const DeviceInfo info = probe();
  return info;
}

}  // namespace sxb::cuda
