// Read-out calibration (none, column, layer) of solved tiles, several
// calibrations from one solve, the W_eff cache of the variants, and the NF of
// the all-V_read read by parasitic source.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/crossbar/calibration.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/mapping.h"
#include "engine/crossbar/scheduler.h"
#include "engine/crossbar/tile_solver.h"
#include "engine/crossbar/weff_cache.h"
#include "kernels/common/error.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

MappedLayer mapped(const std::string& name, int K, int N, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.1f);
  MappedLayer m{name, K, N, std::vector<float>(static_cast<std::size_t>(K) * N), 0.0};
  for (float& w : m.matrix) w = n(rng);
  m.scale = max_abs(m.matrix);
  return m;
}

NetworkLayout layout_of(const std::vector<MappedLayer>& layers, int R, int C) {
  NetworkLayout n;
  n.tile_rows = R;
  n.tile_cols = C;
  for (const MappedLayer& m : layers) n.layers.push_back(dense_layout(m.layer, m.inputs, m.outputs, R, C));
  return n;
}

CrossbarConfig small_config(int tile) {
  CrossbarConfig c;
  c.tile_rows = c.tile_cols = tile;
  c.variation_sigma = 0.05;
  return c;
}

SchedulerOptions asking(std::vector<Calibration> calibrations) {
  SchedulerOptions o;
  o.calibrations = std::move(calibrations);
  return o;
}

// One programmed and solved pair: g and T of both arrays (reference solver).
struct SolvedPair {
  std::vector<double> g_pos, g_neg, t_pos, t_neg;
};

SolvedPair solve_pair(const MappedLayer& m, const TilePlacement& p, int R, int C, const CrossbarConfig& c) {
  SolvedPair s;
  s.g_pos.resize(static_cast<std::size_t>(R) * C);
  s.g_neg.resize(s.g_pos.size());
  program_tile(m.matrix, m.outputs, m.layer, 0, p, R, C, m.scale, c.devices(), s.g_pos.data(), s.g_neg.data());
  for (auto [g, t] : {std::pair{&s.g_pos, &s.t_pos}, std::pair{&s.g_neg, &s.t_neg}}) {
    TileBatch one;
    one.resistances = {c.res};
    one.add(R, C, g->data());
    *t = transfer_matrices(one, Backend::Reference);
  }
  return s;
}

// The definition, from G_eff[i][j] = T[j][i] written out as a matrix: gain_j =
// sum_i g[i][j] / sum_i G_eff[i][j] over the used rows.
std::vector<double> gains_by_definition(const std::vector<double>& g, const std::vector<double>& t, int R, int C,
                                        int rows, int cols) {
  std::vector<double> g_eff(static_cast<std::size_t>(R) * C);
  for (int j = 0; j < C; ++j)
    for (int i = 0; i < R; ++i) g_eff[i * C + j] = t[j * R + i];
  std::vector<double> gains;
  for (int j = 0; j < cols; ++j) {
    double ideal = 0.0, actual = 0.0;
    for (int i = 0; i < rows; ++i) ideal += g[i * C + j], actual += g_eff[i * C + j];
    gains.push_back(ideal / actual);
  }
  return gains;
}

TEST(Calibration, ColumnOnOneTileIsTheDefinition) {
  const int R = 16, C = 16;
  const MappedLayer m = mapped("a", 12, 10, 3);  // one partial tile: 12 used rows, 10 used columns
  const CrossbarConfig c = small_config(R);
  const NetworkLayout layout = layout_of({m}, R, C);
  const TilePlacement& p = layout.layers[0].tiles.at(0);
  const SolvedPair s = solve_pair(m, p, R, C, c);
  const std::vector<double> gp = gains_by_definition(s.g_pos, s.t_pos, R, C, 12, 10);
  const std::vector<double> gn = gains_by_definition(s.g_neg, s.t_neg, R, C, 12, 10);
  const std::vector<double> gp_code = column_gains(12, 10, R, C, s.g_pos.data(), s.t_pos.data());
  ASSERT_EQ(gp_code.size(), 10u);
  for (int j = 0; j < 10; ++j) {
    EXPECT_NEAR(gp_code[j], gp[j], 1e-12);
    EXPECT_GT(gp[j], 1.0);  // parasitics lose current
  }

  const DeviceModel d = c.devices();
  const double factor = m.scale / (d.g_max - d.g_min);
  std::vector<double> w(m.matrix.size(), 0.0);
  add_column_calibrated_weights(p, R, s.t_pos.data(), s.t_neg.data(), column_gains(12, 10, R, C, s.g_pos.data(), s.t_pos.data()),
                                column_gains(12, 10, R, C, s.g_neg.data(), s.t_neg.data()),
                                std::vector<double>(p.cols.size(), factor), m.outputs, w.data());
  double worst = 0.0;
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 10; ++j) {
      const double expected = (gp[j] * s.t_pos[j * R + i] - gn[j] * s.t_neg[j * R + i]) * factor;
      worst = std::max(worst, std::fabs(w[i * m.outputs + j] - expected) / m.scale);
    }
  EXPECT_LT(worst, 1e-12);

  // A calibrated column reads its ideal all-V_read current.
  for (int j = 0; j < 10; ++j) {
    double ideal = 0.0, read = 0.0;
    for (int i = 0; i < 12; ++i) ideal += s.g_pos[i * C + j], read += gp[j] * s.t_pos[j * R + i];
    EXPECT_NEAR(read / ideal, 1.0, 1e-12);
  }

  // The scheduler's column variant is the same to fp32 rounding.
  const auto eff = effective_weights({m}, layout, c, asking({Calibration::Column}));
  ASSERT_EQ(eff[0].calibration, Calibration::Column);
  for (std::size_t k = 0; k < w.size(); ++k) EXPECT_NEAR(eff[0].w_eff[k], w[k], 1e-6 * m.scale) << k;
}

TEST(Calibration, NoneIsTheUncalibratedAssemblyBitForBit) {
  const int R = 16;
  const std::vector<MappedLayer> layers = {mapped("a", 40, 24, 5), mapped("b", 20, 36, 6)};
  const CrossbarConfig c = small_config(R);
  const NetworkLayout layout = layout_of(layers, R, R);
  const auto plain = effective_weights(layers, layout, c, SchedulerOptions{});
  const auto all = effective_weights(layers, layout, c, asking({Calibration::None, Calibration::Column, Calibration::Layer}));
  const DeviceModel d = c.devices();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const MappedLayer& m = layers[l];
    std::vector<double> w(m.matrix.size(), 0.0);
    for (std::size_t t = 0; t < layout.layers[l].tiles.size(); ++t) {
      const TilePlacement& p = layout.layers[l].tiles[t];
      std::vector<double> gp(R * R), gn(R * R);
      program_tile(m.matrix, m.outputs, m.layer, t, p, R, R, m.scale, d, gp.data(), gn.data());
      TileBatch pair;
      pair.resistances = {c.res};
      pair.add(R, R, gp.data());
      pair.add(R, R, gn.data());
      const std::vector<double> tr = transfer_matrices(pair, Backend::Cpu);
      add_effective_weights(p, R, tr.data(), tr.data() + R * R, m.scale / (d.g_max - d.g_min), m.outputs, w.data());
    }
    std::vector<float> expected(w.begin(), w.end());
    EXPECT_EQ(plain[l].calibration, Calibration::None);
    EXPECT_EQ(plain[l].w_eff, expected) << m.layer;
    EXPECT_EQ(all[l].w_eff, expected) << m.layer;
    EXPECT_TRUE(plain[l].other_variants.empty());
    EXPECT_EQ(all[l].stats.nf_sum, plain[l].stats.nf_sum);
    EXPECT_EQ(all[l].stats.low_devices, plain[l].stats.low_devices);
  }
}

TEST(Calibration, LayerIsOneFactorThatIsTheMeanColumnGain) {
  const std::vector<MappedLayer> layers = {mapped("a", 40, 24, 7), mapped("b", 20, 36, 8)};
  const CrossbarConfig c = small_config(16);
  const NetworkLayout layout = layout_of(layers, 16, 16);
  const auto eff = effective_weights(layers, layout, c, asking({Calibration::None, Calibration::Layer}));
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const LayerEffective& e = eff[l];
    // Every used column of both arrays of every tile.
    long long columns = 0;
    for (const TilePlacement& p : layout.layers[l].tiles) columns += 2 * static_cast<long long>(p.cols.size());
    EXPECT_EQ(e.gains.columns, columns);
    EXPECT_GT(e.gains.min, 1.0);
    EXPECT_LE(e.gains.min, e.gains.mean());
    EXPECT_LE(e.gains.mean(), e.gains.max);
    const std::vector<float>& none = e.weights(Calibration::None);
    const std::vector<float>& layer = e.weights(Calibration::Layer);
    int compared = 0;
    for (std::size_t k = 0; k < none.size(); ++k) {
      if (none[k] == 0.0f) continue;
      EXPECT_NEAR(static_cast<double>(layer[k]) / none[k], e.gains.mean(), 1e-6 * e.gains.mean()) << k;
      ++compared;
    }
    EXPECT_GT(compared, 0);
  }
  EXPECT_NE(eff[0].gains.mean(), eff[1].gains.mean());  // one factor per layer, not per network
}

TEST(Calibration, ZeroParasiticsGiveGainOneAndTheWeights) {
  const std::vector<MappedLayer> layers = {mapped("a", 40, 24, 9)};
  const NetworkLayout layout = layout_of(layers, 16, 16);
  CrossbarConfig c = crossbar_preset("ideal");
  c.tile_rows = c.tile_cols = 16;
  const std::vector<Calibration> all = {Calibration::None, Calibration::Column, Calibration::Layer};
  const auto solved = effective_weights(layers, layout, c, asking(all));  // solved by the CPU solver
  EXPECT_NEAR(solved[0].gains.min, 1.0, 1e-12);
  EXPECT_NEAR(solved[0].gains.max, 1.0, 1e-12);
  for (Calibration k : all) {
    const std::vector<float>& w = solved[0].weights(k);
    for (std::size_t i = 0; i < w.size(); ++i)
      ASSERT_NEAR(w[i], layers[0].matrix[i], 1e-6 * layers[0].scale) << to_string(k) << " " << i;
  }
  SchedulerOptions shortcut = asking(all);
  shortcut.ideal = true;  // G_eff = g without a solve
  const auto ideal = effective_weights(layers, layout, crossbar_preset("default"), shortcut);
  EXPECT_EQ(ideal[0].gains.min, 1.0);
  EXPECT_EQ(ideal[0].gains.max, 1.0);
  for (Calibration k : all) EXPECT_EQ(ideal[0].weights(k), layers[0].matrix) << to_string(k);
}

TEST(Calibration, VariantsOfOneCallEqualSeparateCalls) {
  const std::vector<MappedLayer> layers = {mapped("a", 40, 24, 11), mapped("b", 20, 36, 12)};
  CrossbarConfig c = small_config(16);
  c.stuck_at_gmin = 0.02;
  const NetworkLayout layout = layout_of(layers, 16, 16);
  const std::vector<Calibration> order = {Calibration::Column, Calibration::None, Calibration::Layer};
  const auto together = effective_weights(layers, layout, c, asking({Calibration::Column, Calibration::None,
                                                                    Calibration::Column, Calibration::Layer}));
  for (std::size_t l = 0; l < layers.size(); ++l) {
    EXPECT_EQ(together[l].calibrations(), order);  // repeats dropped, order kept, w_eff the first
    for (Calibration k : order) {
      CrossbarConfig alone = c;
      alone.calibration = k;  // the configuration's calibration is the default request
      const auto single = effective_weights(layers, layout, alone, SchedulerOptions{});
      EXPECT_EQ(single[l].calibration, k);
      EXPECT_EQ(together[l].weights(k), single[l].w_eff) << to_string(k);
      EXPECT_EQ(together[l].gains.sum, single[l].gains.sum);
    }
  }
  const auto column = select_calibration(together, Calibration::Layer);
  EXPECT_EQ(column[1].w_eff, together[1].weights(Calibration::Layer));
  EXPECT_TRUE(column[1].other_variants.empty());
  EXPECT_THROW(effective_weights(layers, layout, c, SchedulerOptions{})[0].weights(Calibration::Column), Error);
}

TEST(NfBySource, OneSourceAtATime) {
  const std::vector<MappedLayer> layers = {mapped("a", 40, 24, 13)};
  const NetworkLayout layout = layout_of(layers, 16, 16);
  CrossbarConfig c = small_config(16);
  SchedulerOptions o;
  EXPECT_FALSE(effective_weights(layers, layout, c, o)[0].nf_by_source);  // off by default
  o.nf_by_source = true;

  // Only r_source: the full read is the r_source-only read; the others are 0.
  c.res = TileResistances{500.0, 0.0, 0.0, 0.0};
  const auto only_source = effective_weights(layers, layout, c, o);
  ASSERT_TRUE(only_source[0].nf_by_source);
  const NfBySource& a = *only_source[0].nf_by_source;
  EXPECT_GT(a.full.mean(), 0.0);
  EXPECT_EQ(a.source.sum, a.full.sum);
  EXPECT_EQ(a.source.max, a.full.max);
  EXPECT_EQ(a.source.columns, a.full.columns);
  EXPECT_EQ(a.sink.max, 0.0);
  EXPECT_EQ(a.sink.mean(), 0.0);
  EXPECT_EQ(a.wires.max, 0.0);
  EXPECT_EQ(a.wires.mean(), 0.0);
  EXPECT_EQ(a.wires.columns, a.full.columns);

  // Only r_sink, and only the wires, the same way round.
  c.res = TileResistances{0.0, 100.0, 0.0, 0.0};
  const NfBySource b = *effective_weights(layers, layout, c, o)[0].nf_by_source;
  EXPECT_EQ(b.sink.sum, b.full.sum);
  EXPECT_EQ(b.source.mean(), 0.0);
  EXPECT_EQ(b.wires.mean(), 0.0);
  c.res = TileResistances{0.0, 0.0, 2.5, 2.5};
  const NfBySource w = *effective_weights(layers, layout, c, o)[0].nf_by_source;
  EXPECT_EQ(w.wires.sum, w.full.sum);
  EXPECT_EQ(w.source.mean(), 0.0);
  EXPECT_EQ(w.sink.mean(), 0.0);

  // All together: each part is positive and below the full NF; W_eff unchanged by the extra solves.
  c.res = TileResistances{};
  const auto full = effective_weights(layers, layout, c, o);
  const NfBySource& f = *full[0].nf_by_source;
  EXPECT_EQ(f.full.sum, full[0].stats.nf_sum);
  EXPECT_NEAR(f.source.mean(), a.source.mean(), 1e-15);  // the same programmed tiles
  for (const NfStats* part : {&f.source, &f.sink, &f.wires}) {
    EXPECT_GT(part->mean(), 0.0);
    EXPECT_LT(part->mean(), f.full.mean());
  }
  SchedulerOptions plain;
  EXPECT_EQ(full[0].w_eff, effective_weights(layers, layout, c, plain)[0].w_eff);
}

TEST(WeffCache, StoresTheVariantsAndKeysOnTheCalibrations) {
  const std::vector<MappedLayer> layers = {mapped("a", 20, 12, 15)};
  const CrossbarConfig c = small_config(8);
  const NetworkLayout layout = layout_of(layers, 8, 8);
  SchedulerOptions o = asking({Calibration::None, Calibration::Column});
  o.nf_by_source = true;
  const auto eff = effective_weights(layers, layout, c, o);
  const std::string key = weff_cache_key(layers, layout, c, o);
  const std::string dir = test::fresh_dir("weff-calibration").string();
  const WeffCacheEntry entry = weff_cache_entry(dir, weff_cache_identity(layers, layout, c, o));
  EXPECT_TRUE(store_weff_cache(entry, eff));
  const auto back = load_weff_cache(entry, layout, requested_calibrations(o, c));
  ASSERT_TRUE(back);
  const LayerEffective& e = (*back)[0];
  EXPECT_EQ(e.calibrations(), eff[0].calibrations());
  EXPECT_EQ(e.w_eff, eff[0].w_eff);
  EXPECT_EQ(e.weights(Calibration::Column), eff[0].weights(Calibration::Column));
  EXPECT_EQ(e.gains.sum, eff[0].gains.sum);
  EXPECT_EQ(e.gains.min, eff[0].gains.min);
  EXPECT_EQ(e.gains.max, eff[0].gains.max);
  EXPECT_EQ(e.gains.columns, eff[0].gains.columns);
  ASSERT_TRUE(e.nf_by_source);
  EXPECT_EQ(e.nf_by_source->wires.sum, eff[0].nf_by_source->wires.sum);
  EXPECT_EQ(e.nf_by_source->sink.max, eff[0].nf_by_source->sink.max);

  // Another set or order of calibrations is another key, and a load asking for it misses.
  EXPECT_FALSE(load_weff_cache(entry, layout, {Calibration::Column, Calibration::None}));
  EXPECT_FALSE(load_weff_cache(entry, layout, {Calibration::None}));
  SchedulerOptions other = o;
  other.calibrations = {Calibration::Column, Calibration::None};
  EXPECT_NE(weff_cache_key(layers, layout, c, other), key);
  other.calibrations = {Calibration::None};
  EXPECT_NE(weff_cache_key(layers, layout, c, other), key);
  other = o;
  other.nf_by_source = false;
  EXPECT_NE(weff_cache_key(layers, layout, c, other), key);
  // The configuration's calibration is the default request: the same key as asking for it.
  CrossbarConfig column = c;
  column.calibration = Calibration::Column;
  EXPECT_EQ(weff_cache_key(layers, layout, column), weff_cache_key(layers, layout, c, asking({Calibration::Column})));
  EXPECT_NE(weff_cache_key(layers, layout, column), weff_cache_key(layers, layout, c));
}

TEST(CrossbarConfig, CalibrationKey) {
  EXPECT_EQ(CrossbarConfig{}.calibration, Calibration::None);
  EXPECT_FALSE(CrossbarConfig{}.to_json().contains("calibration"));
  const CrossbarConfig c = crossbar_config_from_json(nlohmann::json{{"calibration", "layer"}}, "x.json");
  EXPECT_EQ(c.calibration, Calibration::Layer);
  EXPECT_EQ(c.to_json()["calibration"], "layer");
  EXPECT_EQ(crossbar_config_from_json(c.to_json(), "round trip").calibration, Calibration::Layer);
  CrossbarConfig s;
  apply_setting(s, "calibration=column");
  EXPECT_EQ(s.calibration, Calibration::Column);
  apply_setting(s, "calibration=none");
  EXPECT_EQ(s.calibration, Calibration::None);
  try {
    crossbar_config_from_json(nlohmann::json{{"calibration", "adc"}}, "x.json");
    FAIL() << "accepted an unknown calibration";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"calibration\""), std::string::npos) << e.what();
  }
  EXPECT_THROW(crossbar_config_from_json(nlohmann::json{{"calibration", 1}}, "x.json"), Error);
}

}  // namespace
}  // namespace sxb
