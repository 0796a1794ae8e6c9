// The Winograd input and gradient transforms of a channel of images
// (kernels/nn/cpu/winograd.h): the vectorised paths (16 columns per vector
// across tiles and images) write bit for bit what the
// general per-plane loop writes, for every map size class, block sizes that
// leave a partial group of lanes, and values with signed zeros; and they touch
// nothing outside their row's columns rounded up to 16.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/nn/cpu/winograd.h"

namespace sxb::nn::cpu::winograd {
namespace {

using Kind = ChannelTransform::Kind;

std::uint32_t bits(float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

struct Case {
  int H, W, channels, count;
};

// The [16][rows][ld] matrices written by row `row` of one transform.
std::vector<float> run(const ChannelTransform& t, const Case& c, std::size_t ld, const std::vector<float>& x, int row,
                       float sentinel) {
  const std::size_t rows = static_cast<std::size_t>(c.channels);
  std::vector<float> M(16 * rows * ld, sentinel);
  std::vector<float> work(8 * static_cast<std::size_t>(c.W + 2));
  const std::size_t plane = static_cast<std::size_t>(c.H) * c.W;
  t(rows, ld, x.data() + static_cast<std::size_t>(row) * plane, c.count, row, M.data(), work.data());
  return M;
}

TEST(NnWinogradTransforms, FastPathsAreBitIdenticalToThePerPlaneLoop) {
  // 2x2 .. 8x8: lanes across images; 16x16, 32x32, 8x16: lanes within an
  // image; 6x6 and 2x6: tile counts that neither divide nor are divided by 16
  // (the per-plane loop).
  const std::vector<Case> cases = {{2, 2, 3, 1},  {2, 2, 3, 17}, {4, 4, 2, 5},   {4, 4, 2, 8},  {8, 8, 2, 3},
                                   {8, 4, 2, 3},  {16, 16, 2, 2}, {32, 32, 2, 1}, {8, 16, 2, 3}, {6, 6, 2, 4},
                                   {2, 6, 3, 5}};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  for (const Case& c : cases) {
    const std::size_t plane = static_cast<std::size_t>(c.H) * c.W, image = c.channels * plane;
    std::vector<float> x(c.count * image);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = i % 7 == 0 ? -0.0f : i % 11 == 0 ? 0.0f : value(rng);
    const std::size_t columns = static_cast<std::size_t>(c.count) * (c.H / 2) * (c.W / 2);
    const std::size_t ld = point_ld(columns);
    for (Kind kind : {Kind::Input, Kind::Gradient}) {
      const ChannelTransform fast(kind, c.H, c.W, image), general(kind, c.H, c.W, image, true);
      for (int row : {0, c.channels - 1}) {
        const std::vector<float> a = run(fast, c, ld, x, row, 1234.5f), b = run(general, c, ld, x, row, 1234.5f);
        const std::size_t padded = (columns + 15) / 16 * 16;
        for (std::size_t p = 0; p < 16; ++p)
          for (std::size_t r = 0; r < static_cast<std::size_t>(c.channels); ++r)
            for (std::size_t col = 0; col < ld; ++col) {
              const std::size_t at = (p * c.channels + r) * ld + col;
              SCOPED_TRACE(::testing::Message() << c.H << "x" << c.W << " count " << c.count << " kind "
                                                << static_cast<int>(kind) << " point " << p << " row " << r
                                                << " column " << col);
              if (r == static_cast<std::size_t>(row) && col < columns) {
                ASSERT_EQ(bits(a[at]), bits(b[at]));
                ASSERT_NE(b[at], 1234.5f);  // the general loop wrote it
              } else if (r == static_cast<std::size_t>(row) && col < padded) {
                ASSERT_TRUE(a[at] == 0.0f || a[at] == 1234.5f) << a[at];  // zeros at most
              } else {
                ASSERT_EQ(a[at], 1234.5f);  // untouched
              }
            }
      }
    }
  }
}

}  // namespace
}  // namespace sxb::nn::cpu::winograd
