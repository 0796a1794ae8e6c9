#include "engine/crossbar/example_tile.h"

#include <cmath>
#include <random>

#include "kernels/common/counter_rng.h"

namespace sxb {

std::vector<double> example_conductances(int rows, int cols, std::uint64_t seed) {
  std::mt19937_64 draw(seed);
  const double g_min = 1.0 / kDefaultROff, g_max = 1.0 / kDefaultROn;
  std::vector<double> g(static_cast<std::size_t>(rows) * cols);
  for (double& x : g) {
    // |w| of a trained layer is mostly small: square a uniform draw.
    const double w = rng::unit_uniform(draw());
    x = g_min + (g_max - g_min) * w * w;
  }
  return g;
}

}  // namespace sxb
