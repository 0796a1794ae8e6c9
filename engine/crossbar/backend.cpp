#include "engine/crossbar/backend.h"

#include "engine/crossbar/tile_solver.h"
#include "kernels/common/blas_core.h"
#include "kernels/common/error.h"
#include "kernels/tile/cuda/cuda_backend.h"

namespace sxb {

Backend parse_backend(const std::string& name, const std::string& field) {
  if (name == "reference") return Backend::Reference;
  Device d = Device::Auto;
  SXB_REQUIRE(device_named(name, d), field + ": unknown backend '" + name + "' (expected auto, cpu, cuda or reference)");
  return backend_on(d);
}

std::string to_string(Backend b) {
  switch (b) {
    case Backend::Auto: return "auto";
    case Backend::Cpu: return "cpu";
    case Backend::Cuda: return "cuda";
    case Backend::Reference: return "reference";
  }
  return "?";
}

Backend backend_on(Device d) {
  switch (d) {
    case Device::Cpu: return Backend::Cpu;
    case Device::Cuda: return Backend::Cuda;
    case Device::Auto: break;
  }
  return Backend::Auto;
}

CudaCapability cuda_tile_capability() {
  const cuda::DeviceInfo& gpu = cuda::device_info();
  return {gpu.available, gpu.reason};
}

Backend resolve(Backend b) {
  if (b == Backend::Reference) return b;
  const Device d = b == Backend::Cpu ? Device::Cpu : b == Backend::Cuda ? Device::Cuda : Device::Auto;
  return backend_on(resolve_device(d, cuda_tile_capability(), "tile solver"));
}

std::string describe(Backend b) { return tile_solver(b).device(); }

std::string better_blas_core(std::string& detected) {
  detected = openblas_core();
  return better_openblas_core(detected);
}

}  // namespace sxb
