// Internal to the CUDA backend: what device_info.cu needs from tile_transfer.cu.
#pragma once

#include <string>

namespace sxb::cuda::detail {

inline constexpr int kDevice = 0;  // the GPU the backend uses (see CUDA_VISIBLE_DEVICES)

// Empty if the tile kernel can run on kDevice, else why not (e.g. no kernel
// image for its architecture). Never throws.
std::string tile_kernel_problem();

}  // namespace sxb::cuda::detail
