// Which implementation solves tiles: a Device (kernels/common/device_choice.h,
// the same cpu | cuda | auto choice as the network engine's) or the reference.
#pragma once

#include <string>

#include "kernels/common/device_choice.h"

namespace sxb {

enum class Backend { Auto, Cpu, Cuda, Reference };

// "auto", "cpu", "cuda" or "reference"; anything else is an Error naming `field`.
Backend parse_backend(const std::string& name, const std::string& field = "backend");
std::string to_string(Backend b);

// The tile solver on `d` (Auto stays Auto).
Backend backend_on(Device d);

// The tile solver's capability probe: a GPU and an image of the tile kernel
// for it (kernels/tile/cuda/cuda_backend.h), independent of the network engine's.
CudaCapability cuda_tile_capability();

// Auto becomes Cuda when cuda_tile_capability() is usable, else Cpu. An
// explicit Cuda request without it is an Error that says why.
Backend resolve(Backend b);

// One line describing the device that runs `b` (CPU model and threads, or GPU name).
std::string describe(Backend b);

// The OpenBLAS core type worth forcing (OPENBLAS_CORETYPE) on this CPU
// because OpenBLAS fell back to its generic kernels, or empty; `detected` is
// the core OpenBLAS chose.
std::string better_blas_core(std::string& detected);

}  // namespace sxb
