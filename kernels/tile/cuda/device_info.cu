// The tile solver's capability probe: the GPU (kernels/common/gpu_info.h)
// and an image of the tile kernel for it. Never throws.
#include <string>

#include "kernels/tile/cuda/cuda_backend.h"
#include "kernels/tile/cuda/tile_kernel.h"

namespace sxb::cuda {

const DeviceInfo& device_info() {
  static const DeviceInfo info = [] {
    DeviceInfo tile = gpu_info();
    if (!tile.available) return tile;
    if (std::string problem = detail::tile_kernel_problem(); !problem.empty()) {
      tile.available = false;
      tile.reason = tile.name + ": " + problem;
    }
    return tile;
  }();
  return info;
}

}  // namespace sxb::cuda
