// Probes GPU kDevice once per process; every failure becomes `reason`, never
// an exception or an abort.
#include "kernels/common/gpu_info.h"

#include <exception>

#ifdef SPARSEXBAR_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "kernels/common/cuda_check.h"
#endif

namespace sxb::cuda {

namespace {

#ifdef SPARSEXBAR_HAVE_CUDA
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
    if (count <= kDevice) {
      info.reason = "no CUDA device found";
      return info;
    }
    cudaDeviceProp prop{};
    if (!ok(cudaGetDeviceProperties(&prop, kDevice), "cudaGetDeviceProperties", info)) return info;
    info.name = prop.name;
    if (!ok(cudaSetDevice(kDevice), "cudaSetDevice", info)) return info;
    if (!ok(cudaMemGetInfo(&info.free_bytes, &info.total_bytes), "cudaMemGetInfo", info)) return info;
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
#else
DeviceInfo probe() noexcept { return DeviceInfo{false, "", "built without CUDA (no nvcc at configure time)", 0, 0}; }
#endif

}  // namespace

const DeviceInfo& gpu_info() {
  static const DeviceInfo info = probe();
  return info;
}

}  // namespace sxb::cuda
