// The CUDA tile product's algorithm, emulated on the host
// (nn::cpu::tile_product_emulated: the plan, chunks, per-pair SGEMMs and entry
// sums of kernels/nn/cuda/tile_product.cu), against the engine's tile-level
// forward (itself checked against the definitions in test_tile_forward.cpp):
// dense and packed tiles, conv and linear layers, DAC (signed, unsigned), ADC,
// slices, bit-serial inputs, one and several chunks. And the plan itself.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/converters/tile_forward.h"
#include "kernels/nn/tile_product.h"
#include "tests/converters/random_tile_layer.h"

namespace sxb {
namespace {

struct Case {
  const char* name;
  int dac_bits, adc_bits, pulse_bits, slices, weight_bits;
  bool is_signed, packed, conv;
};

class TileProductEmulation : public ::testing::TestWithParam<Case> {};

TEST_P(TileProductEmulation, MatchesTheEngineForward) {
  const Case c = GetParam();
  const int K = c.conv ? 4 * 9 : 40, N = 10, batch = c.conv ? 3 : 7;
  const TileLayer t = random_layer(K, N, 8, 4, c.slices, c.weight_bits, c.packed, 21);
  ConverterSettings s;
  s.dac_bits = c.dac_bits;
  s.adc_bits = c.adc_bits;
  s.input_bits_per_pulse = c.pulse_bits;
  const nn::Conv2dShape shape{batch, 4, 5, 5, N, 3, 3, 1, 1};
  std::mt19937_64 rng(8);
  std::uniform_real_distribution<float> u(c.is_signed ? -1.0f : 0.0f, 1.0f);
  std::vector<float> x(c.conv ? batch * 4 * 25 : batch * K);
  for (float& v : x) v = u(rng);
  const LayerInput in{x.data(), batch, c.conv ? &shape : nullptr};
  LayerRanges r;
  r.dac = {0.8, c.is_signed};
  for (int k = 0; k < c.slices && c.adc_bits; ++k) r.adc.push_back(0.6 + 0.1 * k);
  std::vector<float> bias(N);
  for (int o = 0; o < N; ++o) bias[o] = 0.02f * o - 0.1f;
  const std::size_t pixels = c.conv ? 25 : 1, size = static_cast<std::size_t>(batch) * N * pixels;

  std::vector<float> want(size);
  AdcCounts counts;
  tile_layer_forward(t, s, r, in, bias.data(), want.data(), &counts);
  const nn::TileProductLayer flat = flat_tile_layer(t);
  const nn::TileConverters conv = tile_converters(s, r);
  double scale = 0.0;
  for (float v : want) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  // One chunk, and one image per chunk.
  for (std::size_t budget : {std::size_t{1} << 22, std::size_t{1}}) {
    std::vector<float> got(size, NAN);
    const nn::TileProductCounts e =
        nn::cpu::tile_product_emulated(flat, conv, c.conv ? &shape : nullptr, batch, x.data(), bias.data(),
                                       got.data(), budget);
    int off = 0;
    for (std::size_t i = 0; i < size; ++i) off += !(std::fabs(got[i] - want[i]) <= 1e-6 * scale);
    EXPECT_EQ(off, 0) << c.name << " budget " << budget;
    EXPECT_EQ(e.reads, counts.reads) << c.name;
    EXPECT_EQ(e.clipped, counts.clipped) << c.name;
    if (c.adc_bits) EXPECT_GT(e.clipped, 0) << c.name << ": no read saturated, the counts are not checked";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TileProductEmulation,
    ::testing::Values(Case{"analog", 0, 0, 0, 1, 0, true, false, true},
                      Case{"dac_unsigned", 6, 0, 0, 1, 0, false, false, true},
                      Case{"dac_adc_signed_linear", 6, 5, 0, 1, 0, true, false, false},
                      Case{"adc_packed", 0, 4, 0, 1, 0, true, true, true},
                      Case{"slices2_packed", 6, 6, 0, 2, 8, true, true, true},
                      Case{"slices4", 8, 6, 0, 4, 8, false, false, false},
                      Case{"pulses1_signed", 5, 6, 1, 1, 0, true, false, true},
                      Case{"pulses2_unsigned_sliced", 6, 6, 2, 2, 4, false, true, false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TileProductPlan, GathersRowsOnlyWhereTheyAreNotARunAndSumsInPositionSliceOrder) {
  const TileLayer dense = random_layer(20, 6, 8, 4, 2, 4, false, 3);
  const nn::TileProductPlan d = nn::TileProductPlan::of(flat_tile_layer(dense));
  EXPECT_TRUE(d.gather_src.empty());
  // 20 rows on 8-row tiles: 8, 8, 4 rows; 6 columns on 4: 4, 2; shapes (8,4) (8,2) (4,4) (4,2).
  EXPECT_EQ(d.groups.size(), 4u);
  EXPECT_EQ(d.y_rows, 2 * 3 * 6);
  for (int o = 0; o < 6; ++o) {
    ASSERT_EQ(d.entry_begin[o + 1] - d.entry_begin[o], 3 * 2);  // 3 row tiles x 2 slices
    for (int e = d.entry_begin[o]; e + 1 < d.entry_begin[o + 1]; ++e) EXPECT_NE(d.entry_slice[e], d.entry_slice[e + 1]);
  }
  const TileLayer packed = random_layer(20, 6, 8, 4, 1, 0, true, 3);
  const nn::TileProductPlan p = nn::TileProductPlan::of(flat_tile_layer(packed));
  EXPECT_EQ(p.gather_src.size(), 20u);  // shuffled rows: every row block gathers, once for its two tiles
  for (std::size_t q = 0; q < packed.pairs.size(); ++q) {
    ASSERT_TRUE(p.a_gathered[q]);
    for (std::size_t i = 0; i < packed.pairs[q].rows.size(); ++i)
      EXPECT_EQ(p.gather_src[p.a_row[q] + i], packed.pairs[q].rows[i]);
  }
  nn::TileProductLayer bad = flat_tile_layer(packed);
  bad.rows[0] = 20;
  EXPECT_THROW(nn::TileProductPlan::of(bad), Error);
}

}  // namespace
}  // namespace sxb
