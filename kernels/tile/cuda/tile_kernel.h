// Internal to the CUDA backend: what device_info.cu needs from tile_transfer.cu.
#pragma once

#include <string>

#include "kernels/common/gpu_info.h"

namespace sxb::cuda::detail {

// Empty if the tile kernel can run on kDevice, else why not (e.g. no kernel
// image for its architecture). Never throws.
std::string tile_kernel_problem();

}  // namespace sxb::cuda::detail
