#include "engine/crossbar/backend.h"

#include <omp.h>

#include <fstream>

#include "kernels/tile/cuda/cuda_backend.h"
#include "kernels/common/error.h"

namespace sxb {

Backend parse_backend(const std::string& name, const std::string& field) {
  if (name == "auto") return Backend::Auto;
  if (name == "cpu") return Backend::Cpu;
  if (name == "cuda") return Backend::Cuda;
  if (name == "reference") return Backend::Reference;
  throw Error(field + ": unknown backend '" + name + "' (expected auto, cpu, cuda or reference)");
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

Backend resolve(Backend b) {
  const auto& gpu = cuda::device_info();
  if (b == Backend::Auto) return gpu.available ? Backend::Cuda : Backend::Cpu;
  SXB_REQUIRE(b != Backend::Cuda || gpu.available, "backend cuda: no usable GPU (" + gpu.reason + ")");
  return b;
}

std::string describe(Backend b) {
  if (b == Backend::Cuda) return cuda::device_info().name;
  std::string model = "CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + ", " + std::to_string(omp_get_max_threads()) + " threads";
}

}  // namespace sxb
