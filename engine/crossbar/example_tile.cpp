#include "engine/crossbar/example_tile.h"

#include <cmath>
#include <random>

namespace sxb {

std::vector<double> example_conductances(int rows, int cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double g_min = 1.0 / kDefaultROff, g_max = 1.0 / kDefaultROn;
  std::vector<double> g(static_cast<std::size_t>(rows) * cols);
  for (double& x : g) {
    // |w| of a trained layer is mostly small: square a uniform draw.
    const double w = unit_uniform(rng());
    x = g_min + (g_max - g_min) * w * w;
  }
  return g;
}

}  // namespace sxb
