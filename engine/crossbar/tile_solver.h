// Tile-solver front door: validates input once, then dispatches to the
// reference, fast CPU or CUDA implementation (kernels/). Backends assume
// valid input.
#pragma once

#include <string>
#include <vector>

#include "engine/crossbar/backend.h"
#include "kernels/tile/tile.h"

namespace sxb {

inline constexpr int kMaxTileDim = 1024;

// Throws Error naming the offending field (prefixed by `context`, e.g. the
// input file) for: sizes outside [1, kMaxTileDim], conductances that are not
// positive and finite, resistances that are negative or not finite.
void validate_tile(const TileView& tile, const std::string& context = "tile");
void validate_batch(const TileBatch& batch, const std::string& context = "batch");

// Transfer matrices of all tiles (each C x R row-major, at batch.offset[k]).
std::vector<double> transfer_matrices(const TileBatch& batch, Backend backend);

// Output currents of one tile for n_vec input vectors (voltages[n*R + i]);
// result currents[n*C + j]. Cpu/Reference solve per vector; Cuda goes through T.
std::vector<double> tile_currents(const TileView& tile, const std::vector<double>& voltages, Backend backend);

// I_ideal = g^T v for each vector.
std::vector<double> ideal_currents(const TileView& tile, const std::vector<double>& voltages);

// Non-ideality factor per column for the all-V_read input:
// NF[j] = (I_ideal[j] - I[j]) / I_ideal[j] (independent of V_read).
struct NonIdealityFactor {
  std::vector<double> per_column;
  double mean = 0.0;
  double max = 0.0;
};
NonIdealityFactor nonideality_factor(const TileView& tile, const double* transfer);

}  // namespace sxb
