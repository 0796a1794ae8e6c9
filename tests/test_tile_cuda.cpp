// CUDA tile solver against the reference nodal solver. Every test is skipped
// (never passed) when no usable GPU is present.
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

namespace sxb {
namespace {

// Skips the test without a GPU, after checking that the backend says why and
// refuses work with an sxb::Error.
#define SXB_REQUIRE_GPU()                                                                        \
  do {                                                                                           \
    const cuda::DeviceInfo& gpu = cuda::device_info();                                           \
    if (!gpu.available) {                                                                        \
      EXPECT_FALSE(gpu.reason.empty());                                                          \
      TileBatch one;                                                                             \
      const double g = 1e-5;                                                                     \
      one.add(1, 1, &g);                                                                         \
      double t = 0.0;                                                                            \
      EXPECT_THROW(cuda::batch_transfer(one, &t), Error);                                        \
      GTEST_SKIP() << "no usable CUDA GPU: " << gpu.reason;                                      \
    }                                                                                            \
  } while (0)

constexpr double kTolerance = 1e-9;  // max |T_cuda - T_ref| / max |T_ref| per tile

std::string describe(const TileBatch& b, std::size_t k) {
  const TileResistances& r = b.resistances_of(k);
  return "tile " + std::to_string(k) + " (" + std::to_string(b.rows[k]) + " x " + std::to_string(b.cols[k]) +
         ", r_source " + std::to_string(r.r_source) + ", r_sink " + std::to_string(r.r_sink) + ", r_wire_row " +
         std::to_string(r.r_wire_row) + ", r_wire_col " + std::to_string(r.r_wire_col) + ")";
}

std::vector<double> reference_transfer(const TileBatch& b) {
  std::vector<double> T(b.total_cells());
  for (std::size_t k = 0; k < b.size(); ++k) reference::tile_transfer(b.tile(k), T.data() + b.offset[k]);
  return T;
}

std::vector<double> cuda_transfer(const TileBatch& b, std::size_t max_tiles_per_chunk = 0) {
  std::vector<double> T(b.total_cells(), NAN);
  cuda::batch_transfer(b, T.data(), max_tiles_per_chunk);
  return T;
}

void expect_matches_reference(const TileBatch& b, const std::vector<double>& T, const std::vector<double>& ref) {
  double worst = 0.0;
  for (std::size_t k = 0; k < b.size(); ++k) {
    const std::size_t begin = b.offset[k], end = begin + static_cast<std::size_t>(b.rows[k]) * b.cols[k];
    double diff = 0.0, scale = 0.0;
    bool finite = true;
    for (std::size_t i = begin; i < end; ++i) {
      finite = finite && std::isfinite(T[i]);
      diff = std::max(diff, std::abs(T[i] - ref[i]));
      scale = std::max(scale, std::abs(ref[i]));
    }
    const double err = finite ? diff / scale : INFINITY;
    worst = std::max(worst, err);
    EXPECT_LE(err, kTolerance) << describe(b, k);
  }
  ::testing::Test::RecordProperty("worst_relative_error", std::to_string(worst));
}

// Mixed shapes in one batch, each under every resistance case (zeros are
// shorts), with random devices in [20 kOhm, 200 kOhm] and with every device
// at 1 kOhm; 128 x 128 only for the first and last case, to keep the
// reference solves short.
TileBatch mixed_batch() {
  const int shapes[][2] = {{1, 1}, {1, 17}, {17, 1}, {8, 8}, {24, 40}, {64, 64}, {128, 128}};
  const TileResistances cases[] = {
      {500.0, 100.0, 2.5, 2.5},   // defaults
      {0.0, 100.0, 2.5, 2.5},     // r_source = 0
      {500.0, 0.0, 2.5, 2.5},     // r_sink = 0
      {500.0, 100.0, 0.0, 2.5},   // r_wire_row = 0
      {500.0, 100.0, 2.5, 0.0},   // r_wire_col = 0
      {0.0, 0.0, 0.0, 0.0},       // ideal
      {1e4, 1e4, 50.0, 50.0},     // large source, sink and wires
  };
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> device(1.0 / 200e3, 1.0 / 20e3);
  TileBatch batch;
  for (const auto& s : shapes) {
    const int R = s[0], C = s[1];
    std::vector<double> g(static_cast<std::size_t>(R) * C);
    for (std::size_t c = 0; c < std::size(cases); ++c) {
      if (R == 128 && c != 0 && c + 1 != std::size(cases)) continue;
      const TileResistances& res = cases[c];
      for (double& x : g) x = device(rng);
      batch.add(R, C, g.data(), res);
      std::fill(g.begin(), g.end(), 1.0 / 1e3);
      batch.add(R, C, g.data(), res);
    }
  }
  return batch;
}

class TileCuda : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!cuda::device_info().available) return;
    batch_ = new TileBatch(mixed_batch());
    reference_ = new std::vector<double>(reference_transfer(*batch_));
  }
  static void TearDownTestSuite() {
    delete batch_;
    delete reference_;
    batch_ = nullptr;
    reference_ = nullptr;
  }
  static TileBatch* batch_;
  static std::vector<double>* reference_;
};
TileBatch* TileCuda::batch_ = nullptr;
std::vector<double>* TileCuda::reference_ = nullptr;

TEST_F(TileCuda, MixedBatchMatchesReference) {
  SXB_REQUIRE_GPU();
  expect_matches_reference(*batch_, cuda_transfer(*batch_), *reference_);
}

TEST_F(TileCuda, SmallChunksGiveIdenticalResults) {
  SXB_REQUIRE_GPU();
  const std::vector<double> one_launch = cuda_transfer(*batch_);
  for (std::size_t chunk : {1, 3}) {
    const std::vector<double> chunked = cuda_transfer(*batch_, chunk);
    ASSERT_EQ(chunked.size(), one_launch.size());
    for (std::size_t i = 0; i < chunked.size(); ++i)
      ASSERT_EQ(chunked[i], one_launch[i]) << "value " << i << " with max_tiles_per_chunk " << chunk;
  }
}

TEST(TileCudaBatch, BatchWideResistances) {
  SXB_REQUIRE_GPU();
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> device(1.0 / 200e3, 1.0 / 20e3);
  TileBatch batch;
  for (const auto& s : {std::pair{64, 64}, std::pair{3, 64}, std::pair{64, 3}, std::pair{33, 31}}) {
    std::vector<double> g(static_cast<std::size_t>(s.first) * s.second);
    for (double& x : g) x = device(rng);
    batch.add(s.first, s.second, g.data());
  }
  expect_matches_reference(batch, cuda_transfer(batch), reference_transfer(batch));
}

TEST(TileCudaBatch, ZeroParasiticsGiveIdealResultExactly) {
  SXB_REQUIRE_GPU();
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> device(1.0 / 200e3, 1.0 / 1e3);
  const int R = 9, C = 7;
  std::vector<double> g(R * C);
  for (double& x : g) x = device(rng);
  TileBatch batch;
  batch.add(R, C, g.data(), TileResistances{0.0, 0.0, 0.0, 0.0});
  const std::vector<double> T = cuda_transfer(batch);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) EXPECT_EQ(T[j * R + i], g[i * C + j]) << "row " << i << " column " << j;
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
