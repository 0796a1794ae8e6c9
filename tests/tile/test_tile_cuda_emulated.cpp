// The CUDA tile sweep's device code (tests/support/emulated_cuda.h), run on the
// CPU: one std::thread per CUDA thread, std::barrier for __syncthreads and a
// per-warp barrier for __syncwarp. This checks the block algorithm -- work
// split, synchronisation, indexing -- in CI without a GPU; the `gpu` test
// checks the compiled kernel on real hardware.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include "tests/support/emulated_cuda.h"
#include "kernels/tile/reference/tile_reference.h"
#include "tests/test_helpers.h"

namespace sxb::cuda {
namespace {

using test_support::emulated_transfer;

TEST(TileCudaEmulated, BlockSweepMatchesReference) {
  const int shapes[][2] = {{1, 1}, {1, 17}, {17, 1}, {2, 3}, {8, 8}, {24, 40}, {33, 5}};
  const TileResistances cases[] = {{500, 100, 2.5, 2.5}, {0, 100, 2.5, 2.5}, {500, 0, 2.5, 2.5},
                                   {500, 100, 0, 2.5},   {500, 100, 2.5, 0}, {0, 0, 0, 0},
                                   {1e4, 1e4, 50, 50},   {1e4, 1e4, 2.5, 0.01}, {500, 0, 2.5, 0}};
  // The thread count only changes how rows and columns are split over the
  // block: every resistance case at 64 threads, the first (all resistances
  // non-zero) and the ideal one at 96.
  for (int n_threads : {64, 96})
    for (const auto& s : shapes)
      for (int variant = 0; variant < 2; ++variant)
        for (const TileResistances& r : cases) {
          if (n_threads == 96 && &r != &cases[0] && &r != &cases[5]) continue;
          std::vector<double> g = test::random_conductances(s[0], s[1], 2e4, 2e5, 17 * s[0] + s[1]);
          if (variant) std::fill(g.begin(), g.end(), 1e-3);  // every device at 1 kOhm
          const TileView t{s[0], s[1], g.data(), r};
          std::vector<double> ref(g.size());
          reference::tile_transfer(t, ref.data());
          int status = -1;
          const auto emu = emulated_transfer(t, n_threads, &status);
          EXPECT_EQ(status, 0);
          EXPECT_LE(test::max_relative_error(emu, ref), 1e-9)
              << s[0] << "x" << s[1] << " threads " << n_threads << " r " << r.r_source << "/" << r.r_sink << "/"
              << r.r_wire_row << "/" << r.r_wire_col << (variant ? " all at 1 kOhm" : "");
        }
}

TEST(TileCudaEmulated, LargeTileWithFewThreads) {
  const auto g = test::random_conductances(64, 64, 2e4, 2e5, 5);
  const TileView t{64, 64, g.data(), {1000.0, 1000.0, 2.5, 2.5}};
  std::vector<double> ref(g.size());
  reference::tile_transfer(t, ref.data());
  int status = -1;
  EXPECT_LE(test::max_relative_error(emulated_transfer(t, 64, &status), ref), 1e-9);
  EXPECT_EQ(status, 0);
}

}  // namespace
}  // namespace sxb::cuda
