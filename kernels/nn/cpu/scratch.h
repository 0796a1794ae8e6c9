// Per-thread scratch memory of the CPU nn kernels (internal).
#pragma once

#include <array>
#include <cstddef>
#include <vector>

namespace sxb::nn::cpu {

// Named slots, so that nested users on one thread never share a buffer.
enum class Scratch { Columns, Outputs, Partials, WinogradWeights, WinogradInputs, WinogradProducts,
                     WinogradGradient, FlippedWeights, kCount };

// At least n floats (contents unspecified) owned by the calling thread and
// kept between calls: the steady state of a training run neither allocates,
// zero-fills nor page-faults its work buffers.
inline float* scratch(Scratch slot, std::size_t n) {
  thread_local std::array<std::vector<float>, static_cast<std::size_t>(Scratch::kCount)> buffers;
  std::vector<float>& b = buffers[static_cast<std::size_t>(slot)];
  if (b.size() < n) b.resize(n);
  return b.data();
}

}  // namespace sxb::nn::cpu
