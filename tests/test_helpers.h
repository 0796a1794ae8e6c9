// Small helpers shared by the tests: seeded random tiles and error measures.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/tile.h"

namespace sxb::test {

// Device resistances log-uniform in [r_min, r_max] ohm, as conductances (S).
inline std::vector<double> random_conductances(int R, int C, double r_min, double r_max, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(std::log(r_min), std::log(r_max));
  std::vector<double> g(static_cast<std::size_t>(R) * C);
  for (double& x : g) x = 1.0 / std::exp(u(rng));
  return g;
}

inline std::vector<double> random_voltages(int R, int n_vec, double v_max, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, v_max);
  std::vector<double> v(static_cast<std::size_t>(R) * n_vec);
  for (double& x : v) x = u(rng);
  return v;
}

// max |a - b| / max |b|
inline double max_relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0.0, scale = 0.0;
  for (std::size_t k = 0; k < b.size(); ++k) {
    diff = std::max(diff, std::abs(a[k] - b[k]));
    scale = std::max(scale, std::abs(b[k]));
  }
  return scale > 0.0 ? diff / scale : diff;
}

}  // namespace sxb::test
