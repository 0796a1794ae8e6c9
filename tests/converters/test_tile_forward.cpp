// The tile-level forward against a direct per-tile loop written here, in
// double, from the definitions of docs/model.md ("Peripheral converters"):
// DAC, ADC, the range percentile, weight-slice combination (S = 1, 2, 4) and
// bit-serial inputs (1 and 2 bits per pulse), on dense and packed tiles, conv
// and linear layers; and the configuration keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "engine/converters/tile_forward.h"
#include "engine/crossbar/crossbar_config.h"
#include "tests/converters/random_tile_layer.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

using test::error_of;

TEST(ConverterKeys, JsonSettingsAndChecksNameTheKey) {
  const CrossbarConfig c = crossbar_config_from_json(
      {{"dac_bits", 6}, {"adc_bits", 8}, {"adc_range_percentile", 99.5}, {"range_images", 32}, {"weight_bits", 8},
       {"cell_bits", 2}, {"input_bits_per_pulse", 1}},
      "x.json");
  EXPECT_EQ(c.dac_bits, 6);
  EXPECT_EQ(c.adc_bits, 8);
  EXPECT_EQ(c.adc_range_percentile, 99.5);
  EXPECT_EQ(c.range_images, 32);
  EXPECT_EQ(c.slices(), 4);
  EXPECT_EQ(c.input_bits_per_pulse, 1);
  EXPECT_TRUE(c.tile_level());
  EXPECT_EQ(crossbar_config_from_json(c.to_json(), "again").to_json(), c.to_json());
  EXPECT_FALSE(c.without_converters().tile_level());

  const CrossbarConfig d;  // the defaults add nothing to the JSON (sweep ids, cache keys)
  EXPECT_FALSE(d.tile_level());
  EXPECT_EQ(d.slices(), 1);
  for (const char* key : {"dac_bits", "adc_bits", "adc_range_percentile", "range_images", "weight_bits", "cell_bits",
                          "input_bits_per_pulse"})
    EXPECT_FALSE(d.to_json().contains(key)) << key;
  CrossbarConfig e;
  apply_setting(e, "adc_bits=6");
  apply_setting(e, "weight_bits=8");
  EXPECT_EQ(e.slices(), 1);  // cell_bits = weight_bits
  apply_setting(e, "cell_bits=3");
  EXPECT_EQ(e.slices(), 3);

  const auto fails = [](const nlohmann::json& j) { return error_of([&] { crossbar_config_from_json(j, "c.json"); }); };
  EXPECT_NE(fails({{"adc_bits", 1}}).find("adc_bits"), std::string::npos);
  EXPECT_NE(fails({{"dac_bits", 25}}).find("dac_bits"), std::string::npos);
  EXPECT_NE(fails({{"adc_bits", 6.5}}).find("adc_bits"), std::string::npos);
  EXPECT_NE(fails({{"cell_bits", 2}}).find("cell_bits"), std::string::npos);
  EXPECT_NE(fails({{"weight_bits", 4}, {"cell_bits", 5}}).find("cell_bits"), std::string::npos);
  EXPECT_NE(fails({{"input_bits_per_pulse", 1}}).find("input_bits_per_pulse"), std::string::npos);
  EXPECT_NE(fails({{"dac_bits", 4}, {"input_bits_per_pulse", 5}}).find("input_bits_per_pulse"), std::string::npos);
  EXPECT_NE(fails({{"adc_range_percentile", 0}}).find("adc_range_percentile"), std::string::npos);
  EXPECT_NE(fails({{"range_images", 0}}).find("range_images"), std::string::npos);
  CrossbarConfig f;
  EXPECT_NE(error_of([&] { apply_setting(f, "adc_bits=30"); }).find("adc_bits"), std::string::npos);
}

// The input columns of the layer: im2col of a conv input, or the rows of a linear one.
std::vector<std::vector<double>> columns(const LayerInput& in, int K) {
  std::vector<std::vector<double>> out;
  if (!in.conv) {
    for (int n = 0; n < in.batch; ++n) out.emplace_back(in.x + n * K, in.x + (n + 1) * K);
    return out;
  }
  const nn::Conv2dShape& s = *in.conv;
  for (int n = 0; n < s.batch; ++n)
    for (int oh = 0; oh < s.out_height(); ++oh)
      for (int ow = 0; ow < s.out_width(); ++ow) {
        std::vector<double> col;
        for (int c = 0; c < s.in_channels; ++c)
          for (int i = 0; i < s.kernel_h; ++i)
            for (int j = 0; j < s.kernel_w; ++j) {
              const int ih = oh - s.padding + i, iw = ow - s.padding + j;
              col.push_back(ih < 0 || iw < 0 || ih >= s.height || iw >= s.width
                                ? 0.0
                                : in.x[((static_cast<std::size_t>(n) * s.in_channels + c) * s.height + ih) * s.width + iw]);
            }
        out.push_back(col);
      }
  return out;
}

double round_away(double v) { return v < 0 ? -std::floor(-v + 0.5) : std::floor(v + 0.5); }

// The direct loop: o[column][n] for every input column, and every |u| (ideal ADC) per slice.
struct Reference {
  std::vector<std::vector<double>> o;  // [input column][output]
  std::vector<std::vector<double>> u;  // [slice][every read]
};

Reference direct(const TileLayer& t, const ConverterSettings& s, const LayerRanges& r, const LayerInput& in) {
  Reference ref;
  ref.u.resize(t.slices);
  for (const std::vector<double>& x : columns(in, t.inputs)) {
    // The input patterns and their coefficients.
    std::vector<std::pair<std::vector<double>, double>> patterns;
    if (s.dac_bits == 0) {
      patterns.push_back({x, 1.0});
    } else {
      const int L = r.dac.is_signed ? (1 << (s.dac_bits - 1)) - 1 : (1 << s.dac_bits) - 1;
      std::vector<long long> level(x.size());
      for (std::size_t i = 0; i < x.size(); ++i)
        level[i] = static_cast<long long>(
            std::clamp(round_away(x[i] * L / r.dac.range), r.dac.is_signed ? -double(L) : 0.0, double(L)));
      if (s.input_bits_per_pulse == 0) {
        std::vector<double> q(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) q[i] = level[i] * r.dac.range / L;
        patterns.push_back({q, 1.0});
      } else {
        const int p = s.input_bits_per_pulse, bits = r.dac.is_signed ? s.dac_bits - 1 : s.dac_bits;
        for (int sign : r.dac.is_signed ? std::vector<int>{1, -1} : std::vector<int>{1})
          for (int m = 0; m * p < bits; ++m) {
            std::vector<double> v(x.size());
            for (std::size_t i = 0; i < x.size(); ++i) {
              const long long mag = std::max<long long>(sign * level[i], 0);
              v[i] = static_cast<double>((mag >> (m * p)) & ((1 << p) - 1)) / ((1 << p) - 1);
            }
            patterns.push_back({v, sign * std::pow(2.0, m * p) * ((1 << p) - 1) * r.dac.range / L});
          }
      }
    }
    std::vector<double> o(t.outputs, 0.0);
    for (const auto& [v, coefficient] : patterns)
      for (std::size_t q = 0; q < t.pairs.size(); ++q) {
        const TilePair& pair = t.pairs[q];
        const int k = static_cast<int>(q / t.positions);
        for (std::size_t j = 0; j < pair.cols.size(); ++j) {
          double y = 0.0;
          for (std::size_t i = 0; i < pair.rows.size(); ++i) y += v[pair.rows[i]] * pair.w[j * pair.rows.size() + i];
          const double sj = pair.scale[j], u = y / sj;
          ref.u[k].push_back(std::fabs(u));
          double a = u;
          if (s.adc_bits > 0) {
            const int L = (1 << (s.adc_bits - 1)) - 1;
            a = std::clamp(round_away(u * L / r.adc[k]), -double(L), double(L)) * r.adc[k] / L;
          }
          o[pair.cols[j]] += coefficient * t.slice_weight[k] * sj * a;
        }
      }
    ref.o.push_back(o);
  }
  return ref;
}

double nearest_rank(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const std::size_t rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(p * v.size() / 100.0)));
  return v[rank - 1];
}

struct Case {
  const char* name;
  int dac_bits, adc_bits, pulse_bits, slices, weight_bits;
  bool is_signed, packed, conv;
};

class TileForward : public ::testing::TestWithParam<Case> {};

TEST_P(TileForward, MatchesTheDirectPerTileLoop) {
  const Case c = GetParam();
  const int K = c.conv ? 4 * 9 : 40, N = 10;
  const TileLayer t = random_layer(K, N, 8, 4, c.slices, c.weight_bits, c.packed, 11);
  ConverterSettings s;
  s.dac_bits = c.dac_bits;
  s.adc_bits = c.adc_bits;
  s.input_bits_per_pulse = c.pulse_bits;
  const nn::Conv2dShape shape{3, 4, 5, 5, N, 3, 3, 1, 1};
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(c.is_signed ? -1.0f : 0.0f, 1.0f);
  std::vector<float> x(c.conv ? 3 * 4 * 25 : 7 * K);
  for (float& v : x) v = u(rng);
  LayerInput in{x.data(), c.conv ? 3 : 7, c.conv ? &shape : nullptr};

  LayerRanges r;
  r.dac = {0.8, c.is_signed};  // below max |x|: some inputs clip
  // ADC ranges: the 90th percentile of the ideal |u|, so that some reads saturate.
  ConverterSettings ideal_adc = s;
  ideal_adc.adc_bits = 0;
  const Reference ideal = direct(t, ideal_adc, LayerRanges{r.dac, {}}, in);
  for (int k = 0; k < c.slices; ++k) r.adc.push_back(c.adc_bits ? nearest_rank(ideal.u[k], 90.0) : 0.0);
  const Reference ref = direct(t, s, r, in);
  ConverterSettings none;
  const Reference analog = direct(t, none, LayerRanges{}, in);

  // The percentile as the engine collects it (ideal ADC, every read).
  for (double p : {100.0, 90.0}) {
    std::vector<AbsPercentile> collect(c.slices, AbsPercentile(p));
    tile_layer_forward(t, s, r, in, nullptr, nullptr, nullptr, &collect);
    if (collect.front().needs_second_pass()) {
      for (AbsPercentile& a : collect) a.start_second_pass();
      tile_layer_forward(t, s, r, in, nullptr, nullptr, nullptr, &collect);
    }
    for (int k = 0; k < c.slices; ++k) {
      EXPECT_EQ(collect[k].count(), static_cast<long long>(ideal.u[k].size()));
      EXPECT_NEAR(collect[k].value(), nearest_rank(ideal.u[k], p), 1e-5 * nearest_rank(ideal.u[k], p)) << p;
    }
  }

  std::vector<float> bias(N);
  for (int o = 0; o < N; ++o) bias[o] = 0.01f * o;
  const std::size_t pixels = c.conv ? 25 : 1;
  std::vector<float> y(static_cast<std::size_t>(in.batch) * N * pixels);
  AdcCounts counts;
  tile_layer_forward(t, s, r, in, bias.data(), y.data(), &counts);
  double step = 0.0;  // the largest change one flipped ADC rounding can make
  for (int k = 0; k < c.slices && c.adc_bits; ++k)
    step = std::max(step, t.slice_weight[k] * r.adc[k] / ((1 << (c.adc_bits - 1)) - 1) * 2.0 *
                              (c.pulse_bits ? std::pow(2.0, c.dac_bits) * r.dac.range : 1.0) * 2.0);  // s_j <= 2
  int off = 0, changed = 0;
  double worst = 0.0;
  for (std::size_t m = 0; m < ref.o.size(); ++m) {
    const int n = static_cast<int>(m / pixels);
    const std::size_t pixel = m % pixels;
    for (int o = 0; o < N; ++o) {
      const double want = ref.o[m][o] + bias[o];
      const double got = y[(static_cast<std::size_t>(n) * N + o) * pixels + pixel];
      const double d = std::fabs(got - want);
      if (d > 1e-4 * (1.0 + std::fabs(want))) {
        ++off;
        worst = std::max(worst, d);
      }
      changed += std::fabs(ref.o[m][o] - analog.o[m][o]) > 1e-3;
    }
  }
  const int outputs = static_cast<int>(ref.o.size()) * N;
  // Float products against double ones: a rounding at an ADC level's edge may
  // flip, rarely, by one level.
  EXPECT_LE(off, c.adc_bits ? outputs / 100 : 0) << c.name;
  EXPECT_LE(worst, step * 1.001 + 1e-4) << c.name;
  if (c.dac_bits || c.adc_bits) EXPECT_GT(changed, outputs / 10) << c.name << ": the converters changed nothing";
  if (c.adc_bits) {
    std::size_t reads = 0;
    for (const auto& v : ideal.u) reads += v.size();
    EXPECT_EQ(counts.reads, static_cast<long long>(reads));
    EXPECT_GT(counts.clipped, 0);
    EXPECT_LT(counts.clipped, counts.reads / 5);
  }
  // The thread count does not change the result.
  std::vector<float> y1(y.size());
  {
    test::ThreadCount one(1);
    tile_layer_forward(t, s, r, in, bias.data(), y1.data(), nullptr);
  }
  EXPECT_EQ(y1, y);
}

INSTANTIATE_TEST_SUITE_P(
    Definitions, TileForward,
    ::testing::Values(Case{"dac_unsigned", 4, 0, 0, 1, 0, false, false, true},
                      Case{"dac_signed", 4, 0, 0, 1, 0, true, false, true},
                      Case{"adc", 0, 6, 0, 1, 0, true, false, true},
                      Case{"dac_adc_dense", 6, 6, 0, 1, 0, true, false, true},
                      Case{"dac_adc_packed", 6, 6, 0, 1, 0, false, true, true},
                      Case{"dac_adc_linear", 6, 5, 0, 1, 0, true, true, false},
                      Case{"slices_1", 6, 8, 0, 1, 8, false, false, true},
                      Case{"slices_2", 6, 8, 0, 2, 8, false, true, true},
                      Case{"slices_4", 6, 8, 0, 4, 8, false, false, true},
                      Case{"serial_1_unsigned", 6, 6, 1, 1, 0, false, false, true},
                      Case{"serial_2_signed", 6, 6, 2, 1, 0, true, true, true},
                      Case{"serial_1_signed_slices_2", 5, 8, 1, 2, 8, true, false, false}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace sxb
