// The network engine's kernel check, on top of the GPU probe
// (kernels/common/gpu_info.h): empty if the network kernels have an image
// for GPU kDevice, else why not. Never throws; call only when a GPU is present.
#pragma once

#include <string>

namespace sxb::nn::gpu {

std::string kernel_problem();

}  // namespace sxb::nn::gpu
