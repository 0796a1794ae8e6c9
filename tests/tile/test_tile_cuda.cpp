// What only the CUDA tile solver has: launches split into chunks, the empty
// batch, the device probe. Its physics and its agreement with the reference
// are checked by the backend-independent tests (test_tile_solver_gpu,
// test_tile_eigen_gpu). Every test is skipped (never passed) without a usable GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "kernels/tile/cuda/cuda_backend.h"
#include "kernels/common/error.h"
#include "kernels/tile/reference/tile_reference.h"
#include "kernels/tile/tile.h"
#include "engine/crossbar/backend.h"
#include "tests/support/skip.h"

namespace sxb {
namespace {

// Skips the test without a GPU, after checking that the backend says why and
// refuses work with an sxb::Error.
#define SXB_REQUIRE_GPU()                                                \
  do {                                                                   \
    if (!cuda::device_info().available) {                                \
      EXPECT_FALSE(cuda::device_info().reason.empty());                  \
      TileBatch one;                                                     \
      const double g = 1e-5;                                             \
      one.add(1, 1, &g);                                                 \
      double t = 0.0;                                                    \
      EXPECT_THROW(cuda::batch_transfer(one, &t), Error);                \
    }                                                                    \
    SXB_SKIP_UNLESS_USABLE(cuda_tile_capability());                      \
  } while (0)

std::vector<double> cuda_transfer(const TileBatch& b, std::size_t max_tiles_per_chunk = 0) {
  std::vector<double> T(b.total_cells(), NAN);
  EXPECT_TRUE(cuda::batch_transfer(b, T.data(), max_tiles_per_chunk).empty());
  return T;
}

// Mixed shapes and resistance cases, some tiles sharing a launch.
TileBatch mixed_batch() {
  const int shapes[][2] = {{1, 1}, {1, 17}, {17, 1}, {8, 8}, {24, 40}, {64, 64}};
  const TileResistances cases[] = {{500.0, 100.0, 2.5, 2.5}, {0.0, 0.0, 0.0, 0.0}, {1e4, 1e4, 50.0, 50.0}};
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> device(1.0 / 200e3, 1.0 / 20e3);
  TileBatch batch;
  for (const auto& s : shapes)
    for (const TileResistances& res : cases) {
      std::vector<double> g(static_cast<std::size_t>(s[0]) * s[1]);
      for (double& x : g) x = device(rng);
      batch.add(s[0], s[1], g.data(), res);
    }
  return batch;
}

TEST(TileCuda, SmallChunksGiveIdenticalResults) {
  SXB_REQUIRE_GPU();
  const TileBatch batch = mixed_batch();
  const std::vector<double> one_launch = cuda_transfer(batch);
  for (std::size_t chunk : {1, 3}) {
    const std::vector<double> chunked = cuda_transfer(batch, chunk);
    ASSERT_EQ(chunked.size(), one_launch.size());
    for (std::size_t i = 0; i < chunked.size(); ++i)
      ASSERT_EQ(chunked[i], one_launch[i]) << "value " << i << " with max_tiles_per_chunk " << chunk;
  }
}

TEST(TileCudaBatch, EmptyBatch) {
  SXB_REQUIRE_GPU();
  const TileBatch empty;
  EXPECT_NO_THROW(cuda::batch_transfer(empty, nullptr));
  EXPECT_NO_THROW(cuda::batch_transfer(empty, nullptr, 3));
}

TEST(TileCudaBatch, DeviceInfoIsConsistent) {
  SXB_REQUIRE_GPU();
  const cuda::DeviceInfo& gpu = cuda::device_info();
  EXPECT_FALSE(gpu.name.empty());
  EXPECT_GT(gpu.total_bytes, 0u);
  EXPECT_LE(gpu.free_bytes, gpu.total_bytes);
  EXPECT_GE(cuda::tile_workspace_bytes(64, 64), 2 * 64 * 64 * sizeof(double));
}

}  // namespace
}  // namespace sxb
