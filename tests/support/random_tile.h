// Owned random tiles with fixed-seed generators, shared by the independent
// validation tests (test_tile_eigen, test_tile_spice) and bench_solver.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/tile/tile.h"

namespace sxb::test_support {

struct OwnedTile {
  int rows = 0;
  int cols = 0;
  std::vector<double> conductance;  // rows x cols, row-major, siemens
  TileResistances res;
  std::string label;  // what kind of tile this is, for failure messages

  TileView view() const { return TileView{rows, cols, conductance.data(), res}; }
};

class TileRng {
 public:
  explicit TileRng(std::uint64_t seed) : engine_(seed) {}

  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(engine_); }
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }

  // Device resistances uniform in [r_lo, r_hi] ohm.
  OwnedTile tile(int rows, int cols, double r_lo, double r_hi, const TileResistances& res, std::string label) {
    OwnedTile t{rows, cols, std::vector<double>(static_cast<std::size_t>(rows) * cols), res, std::move(label)};
    for (double& g : t.conductance) g = 1.0 / uniform(r_lo, r_hi);
    return t;
  }

  std::vector<double> voltages(std::size_t count, double lo, double hi) {
    std::vector<double> v(count);
    for (double& x : v) x = uniform(lo, hi);
    return v;
  }

 private:
  std::mt19937_64 engine_;
};

// Every device at the same resistance.
inline OwnedTile uniform_tile(int rows, int cols, double r_device, const TileResistances& res, std::string label) {
  return OwnedTile{rows, cols, std::vector<double>(static_cast<std::size_t>(rows) * cols, 1.0 / r_device), res,
                   std::move(label)};
}

// max |a - b| / max |b| (0 when both are all zero).
inline double max_relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double diff = 0.0, scale = 0.0;
  for (std::size_t k = 0; k < b.size(); ++k) {
    if (!std::isfinite(a[k])) return INFINITY;
    diff = std::max(diff, std::abs(a[k] - b[k]));
    scale = std::max(scale, std::abs(b[k]));
  }
  return scale > 0.0 ? diff / scale : diff;
}

}  // namespace sxb::test_support
