// The GPU itself, probed once per process: present, selectable, its name and
// memory. Says nothing about whether a given kernel image runs on it; the
// tile solver (kernels/tile/cuda/cuda_backend.h) and the network engine
// (models/nn_backend.h) each add their own kernel check on top.
#pragma once

#include <cstddef>
#include <string>

namespace sxb::cuda {

inline constexpr int kDevice = 0;  // the GPU every CUDA engine uses (see CUDA_VISIBLE_DEVICES)

struct DeviceInfo {
  bool available = false;
  std::string name;     // e.g. "NVIDIA H100 80GB HBM3"
  std::string reason;   // why it is unavailable
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
};

// Never throws; every failure becomes `reason`. Built without CUDA: never
// available. Later calls return the cached answer.
const DeviceInfo& gpu_info();

}  // namespace sxb::cuda
