// Backend selection by device name ("cpu", "cuda", "auto").
#include "models/nn_backend.h"

namespace sxb::nn {

std::unique_ptr<Backend> make_backend(const std::string& device) {
  if (device == "cpu") return make_cpu_backend();
  if (device == "cuda") return make_cuda_backend();
  if (device == "auto") return cuda_nn_available() ? make_cuda_backend() : make_cpu_backend();
  throw Error("unknown device '" + device + "' (expected cpu, cuda or auto)");
}

}  // namespace sxb::nn
