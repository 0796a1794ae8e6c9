// The built-in example tile: a seeded, weight-like conductance pattern
// between G_min = 1/R_off and G_max = 1/R_on at the documented defaults,
// and its solve with every row at V_read (`sparsexbar demo --example-tile`).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/mapping.h"  // kDefaultROn, kDefaultROff, kDefaultVRead
#include "kernels/tile/tile.h"

namespace sxb {

// rows x cols conductances (S), row-major, from `seed`.
std::vector<double> example_conductances(int rows, int cols, std::uint64_t seed);

// The n x n example tile of `seed` (default resistances) solved on `backend`
// with every row at kDefaultVRead: ideal and non-ideal column currents (A) and
// each column's non-ideality factor NF_j = (I_ideal - I) / I_ideal.
struct ExampleTileRun {
  TileResistances res;
  std::vector<double> ideal, currents, nf;
  double nf_mean = 0.0, nf_max = 0.0;
  double seconds = 0.0;  // the solve
};
ExampleTileRun run_example_tile(int n, std::uint64_t seed, Backend backend);

}  // namespace sxb
