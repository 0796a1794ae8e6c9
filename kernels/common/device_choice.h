// Where a computation runs: the one cpu | cuda | auto choice shared by the
// tile solver (engine/crossbar/backend.h) and the network engine
// (models/nn_backend.h). Each has its own capability probe; `auto` picks
// CUDA exactly when that probe says it is usable.
#pragma once

#include <string>

#include "kernels/common/error.h"

namespace sxb {

enum class Device { Auto, Cpu, Cuda };

// The network engine's default (--device, a sweep's device): the CPU, where
// every run repeats itself bit for bit.
inline constexpr Device kDefaultNetworkDevice = Device::Cpu;

// Whether the CUDA implementation of one engine can run here, and if not, why.
struct CudaCapability {
  bool usable = false;
  std::string reason;  // empty when usable
};

inline const char* to_string(Device d) {
  switch (d) {
    case Device::Auto: return "auto";
    case Device::Cpu: return "cpu";
    case Device::Cuda: return "cuda";
  }
  return "?";
}

// True and sets `out` for "auto", "cpu" or "cuda".
inline bool device_named(const std::string& name, Device& out) {
  for (Device d : {Device::Auto, Device::Cpu, Device::Cuda})
    if (name == to_string(d)) {
      out = d;
      return true;
    }
  return false;
}

// "cpu", "cuda" or "auto"; anything else is an Error naming `field`.
inline Device parse_device(const std::string& name, const std::string& field) {
  Device d = Device::Auto;
  SXB_REQUIRE(device_named(name, d), field + ": unknown device '" + name + "' (expected cpu, cuda or auto)");
  return d;
}

// Auto becomes Cuda when `cuda` is usable, else Cpu. Cuda without a usable
// implementation is an Error "<engine>: cuda requested, but <reason>".
inline Device resolve_device(Device d, const CudaCapability& cuda, const std::string& engine) {
  if (d == Device::Auto) return cuda.usable ? Device::Cuda : Device::Cpu;
  SXB_REQUIRE(d != Device::Cuda || cuda.usable, engine + ": cuda requested, but " + cuda.reason);
  return d;
}

}  // namespace sxb
