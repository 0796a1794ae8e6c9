// Backend selection by device: cpu, cuda or auto.
#include "models/nn_backend.h"

namespace sxb::nn {

CudaCapability cuda_nn_capability() {
  CudaCapability c;
  c.usable = cuda_nn_available(&c.reason);
  return c;
}

std::unique_ptr<Backend> make_backend(Device device) {
  return resolve_device(device, cuda_nn_capability(), "network engine") == Device::Cuda ? make_cuda_backend()
                                                                                         : make_cpu_backend();
}

std::unique_ptr<Backend> make_backend(const std::string& device) {
  return make_backend(parse_device(device, "device"));
}

}  // namespace sxb::nn
