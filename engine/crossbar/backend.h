// Which implementation solves tiles.
#pragma once

#include <string>

namespace sxb {

enum class Backend { Auto, Cpu, Cuda, Reference };

// "auto", "cpu", "cuda" or "reference"; anything else is an Error naming `field`.
Backend parse_backend(const std::string& name, const std::string& field = "backend");
std::string to_string(Backend b);

// Auto becomes Cuda when a usable GPU is present, else Cpu. An explicit Cuda
// request without a usable GPU is an Error that says why.
Backend resolve(Backend b);

// One line describing the device that runs `b` (CPU model and threads, or GPU name).
std::string describe(Backend b);

}  // namespace sxb
