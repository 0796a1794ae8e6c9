#include "engine/crossbar/example_tile.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/crossbar/tile_solver.h"
#include "engine/io/stopwatch.h"
#include "kernels/common/counter_rng.h"

namespace sxb {

std::vector<double> example_conductances(int rows, int cols, std::uint64_t seed) {
  // One sequential stream per tile (the pattern is made on one thread): the
  // same seed gives the same tile everywhere.
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

ExampleTileRun run_example_tile(int n, std::uint64_t seed, Backend backend) {
  ExampleTileRun r;
  const std::vector<double> g = example_conductances(n, n, seed);
  const TileView t{n, n, g.data(), r.res};
  const std::vector<double> v(n, kDefaultVRead);
  const auto t0 = Clock::now();
  r.currents = tile_currents(t, v, backend);
  r.seconds = seconds_since(t0);
  r.ideal = ideal_currents(t, v);
  r.nf.resize(n);
  for (int j = 0; j < n; ++j) {
    r.nf[j] = (r.ideal[j] - r.currents[j]) / r.ideal[j];
    r.nf_mean += r.nf[j] / n;
    r.nf_max = std::max(r.nf_max, r.nf[j]);
  }
  return r;
}

}  // namespace sxb
