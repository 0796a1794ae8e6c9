// What one thread block needs to know about its tile, shared by the host
// planner and the kernel, and the layout of a tile's scratch memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common/host_device.h"

namespace sxb::cuda {

inline constexpr int kThreadsPerTile = 256;  // one block per tile
inline constexpr int kWarpSize = 32;

struct TileJob {
  int rows = 0;
  int cols = 0;
  std::int64_t cell_offset = 0;     // into the chunk's conductance and transfer arrays
  std::int64_t scratch_offset = -1; // into the chunk's global scratch; -1: in shared memory
  double r_source = 0.0, r_sink = 0.0, r_wire_row = 0.0, r_wire_col = 0.0;
};

// Scratch of an R-row tile: three R x R matrices (admittance Y, Cholesky
// factor F, right-hand sides B), column-major with an odd leading dimension so
// that strided shared-memory accesses hit distinct banks, then three R-vectors
// (reciprocal Cholesky diagonal, the current bit line's conductances and its
// tridiagonal factor).
SXB_HOST_DEVICE constexpr int scratch_leading_dim(int rows) { return rows | 1; }
SXB_HOST_DEVICE constexpr std::size_t scratch_doubles(int rows) {
  return 3 * static_cast<std::size_t>(rows) * scratch_leading_dim(rows) + 3 * static_cast<std::size_t>(rows);
}

}  // namespace sxb::cuda
