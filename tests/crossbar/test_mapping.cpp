// Mapping layers onto tiles, the scheduler's effective weights, crossbar
// counts, the crossbar configuration and the W_eff cache.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <fstream>
#include <random>

#include "engine/crossbar/crossbar_config.h"
#include "engine/evaluation/crossbar_eval.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/mapping.h"
#include "engine/crossbar/scheduler.h"
#include "engine/crossbar/tile_solver.h"
#include "engine/crossbar/weff_cache.h"
#include "kernels/common/error.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

std::vector<float> random_matrix(int K, int N, std::uint64_t seed, double zero_share = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.1f);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> m(static_cast<std::size_t>(K) * N);
  for (float& w : m) w = u(rng) < zero_share ? 0.0f : n(rng);
  return m;
}

MappedLayer mapped(const std::string& name, int K, int N, std::uint64_t seed) {
  MappedLayer m{name, K, N, random_matrix(K, N, seed), 0.0};
  m.scale = max_abs(m.matrix);
  return m;
}

TEST(LayerMatrix, FollowsPyTorchViewOrder) {
  // weight [N=2, C_in=3, 2, 2]: W[k][n] = weight.view(N, -1)[n][k], k = (c, ky, kx).
  std::vector<float> w(2 * 12);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  const std::vector<float> m = layer_matrix(w.data(), 2, 12);
  EXPECT_EQ(m[5 * 2 + 1], w[1 * 12 + 5]);  // n = 1, c = 1, ky = 0, kx = 1
  EXPECT_EQ(m[11 * 2 + 0], w[11]);
  std::vector<float> back(w.size());
  weight_from_layer_matrix(m.data(), 2, 12, back.data());
  EXPECT_EQ(back, w);
}

TEST(Layout, DenseCoversEveryWeightOnce) {
  const LayerLayout l = dense_layout("x", 70, 33, 32, 16);
  EXPECT_EQ(l.tiles.size(), 3u * 3u);  // ceil(70/32) x ceil(33/16)
  EXPECT_NO_THROW(l.check(32, 16, "t"));
  std::vector<int> held(70 * 33, 0);
  for (const TilePlacement& p : l.tiles)
    for (int k : p.rows)
      for (int n : p.cols) ++held[k * 33 + n];
  for (int h : held) EXPECT_EQ(h, 1);
  EXPECT_EQ(l.tiles.back().rows.size(), 6u);
  EXPECT_EQ(l.tiles.back().cols.size(), 1u);
}

TEST(Layout, CheckNamesTheProblem) {
  const auto fails = [](LayerLayout l, const std::string& text) {
    try {
      l.check(4, 4, "layout.json");
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("layout.json"), std::string::npos) << e.what();
    }
  };
  LayerLayout base{"features.0", 8, 8, {{{0, 1}, {0, 1}}}};
  LayerLayout a = base;
  a.tiles.push_back({{1}, {1, 2}});
  fails(a, "already held");
  LayerLayout b = base;
  b.tiles[0].rows = {0, 9};
  fails(b, "outside [0, 8)");
  LayerLayout c = base;
  c.tiles[0].cols = {0, 1, 2, 3, 4};
  fails(c, "5 columns on a tile of 4");
  LayerLayout d = base;
  d.tiles[0].rows = {3, 3};
  fails(d, "repeated");
}

TEST(Layout, JsonRoundTripAndErrors) {
  NetworkLayout n;
  n.method = "xcs";
  n.tile_rows = n.tile_cols = 4;
  n.layers.push_back(LayerLayout{"features.0", 8, 8, {{{0, 1, 2, 3}, {5, 1}}, {{4, 5}, {0}}}});
  const NetworkLayout back = network_layout_from_json(to_json(n), "mem");
  EXPECT_EQ(to_json(back), to_json(n));
  EXPECT_EQ(back.crossbars(), 4);
  nlohmann::json bad = to_json(n);
  bad["layers"][0]["tiles"][0]["rows"] = "x";
  EXPECT_THROW(network_layout_from_json(bad, "mem"), Error);
  bad = to_json(n);
  bad["method"] = "magic";
  EXPECT_THROW(network_layout_from_json(bad, "mem"), Error);
}

TEST(Mapping, DifferentialPairAndClipping) {
  const DeviceModel d;
  const std::vector<float> m = {0.5f, -1.0f, 0.0f, 2.0f};  // 2 x 2
  TilePlacement p{{0, 1}, {0, 1}};
  std::vector<double> gp(9), gn(9);  // a 3 x 3 tile: one unused row and column
  const long long clipped = program_tile(m, 2, "l", 0, p, 3, 3, 1.0, d, gp.data(), gn.data());
  EXPECT_EQ(clipped, 1);  // 2.0 > s = 1
  const double range = d.g_max - d.g_min;
  EXPECT_DOUBLE_EQ(gp[0], d.g_min + 0.5 * range);
  EXPECT_DOUBLE_EQ(gn[0], d.g_min);
  EXPECT_DOUBLE_EQ(gn[1], d.g_max);
  EXPECT_DOUBLE_EQ(gp[3 + 1], d.g_max);  // clipped to s
  for (int c : {2, 5, 6, 7, 8}) {
    EXPECT_EQ(gp[c], d.g_min);
    EXPECT_EQ(gn[c], d.g_min);
  }
}

TEST(Mapping, LevelsVariationAndFaults) {
  const std::vector<float> m = random_matrix(32, 32, 3);
  TilePlacement p;
  for (int i = 0; i < 32; ++i) p.rows.push_back(i), p.cols.push_back(i);
  const double s = max_abs(m);
  DeviceModel d;
  d.levels = 2;
  std::vector<double> gp(1024), gn(1024);
  program_tile(m, 32, "l", 0, p, 32, 32, s, d, gp.data(), gn.data());
  for (double g : gp) EXPECT_TRUE(g == d.g_min || std::fabs(g - d.g_max) < 1e-18);

  DeviceModel v;
  v.sigma = 0.2;
  std::vector<double> hp(1024), hn(1024), ip(1024), in(1024);
  program_tile(m, 32, "l", 0, p, 32, 32, s, v, hp.data(), hn.data());
  program_tile(m, 32, "l", 0, p, 32, 32, s, v, ip.data(), in.data());
  EXPECT_EQ(hp, ip);  // same seed and position, same draws
  program_tile(m, 32, "l", 1, p, 32, 32, s, v, ip.data(), in.data());
  EXPECT_NE(hp, ip);  // another tile, other draws
  for (double g : hp) EXPECT_TRUE(g >= 0.5 * v.g_min && g <= 1.5 * v.g_max);

  DeviceModel f;
  f.stuck_min = 0.1;
  f.stuck_max = 0.2;
  std::vector<float> mid(1024, 0.5f);
  program_tile(mid, 32, "l", 0, p, 32, 32, 1.0, f, gp.data(), gn.data());
  int at_min = 0, at_max = 0;
  for (double g : gp) at_min += g == f.g_min, at_max += g == f.g_max;
  EXPECT_NEAR(at_min / 1024.0, 0.1, 0.04);
  EXPECT_NEAR(at_max / 1024.0, 0.2, 0.05);
}

TEST(Scheduler, ZeroParasiticsGiveTheWeights) {
  std::vector<MappedLayer> layers = {mapped("a", 70, 20, 1), mapped("b", 16, 40, 2)};
  CrossbarConfig c = crossbar_preset("ideal");
  c.tile_rows = c.tile_cols = 32;
  const NetworkLayout layout = dense_network_layout(layers, 32, 32);
  SchedulerOptions o;  // solved by the CPU solver, not the ideal shortcut
  const auto eff = effective_weights(layers, layout, c, o);
  for (std::size_t l = 0; l < layers.size(); ++l)
    for (std::size_t k = 0; k < layers[l].matrix.size(); ++k)
      ASSERT_NEAR(eff[l].w_eff[k], layers[l].matrix[k], 1e-6 * layers[l].scale) << layers[l].layer << " " << k;
  o.ideal = true;
  const auto ideal = effective_weights(layers, layout, crossbar_preset("default"), o);
  for (std::size_t l = 0; l < layers.size(); ++l) EXPECT_EQ(ideal[l].w_eff, layers[l].matrix);
}

TEST(Scheduler, MatchesSingleTileSolves) {
  const std::vector<MappedLayer> layers = {mapped("a", 40, 24, 5)};
  CrossbarConfig c;
  c.tile_rows = c.tile_cols = 16;
  c.variation_sigma = 0.05;
  const NetworkLayout layout = dense_network_layout(layers, 16, 16);
  const auto eff = effective_weights(layers, layout, c, SchedulerOptions{});
  // Rebuild W_eff tile by tile with the reference solver.
  const MappedLayer& m = layers[0];
  std::vector<double> w(m.matrix.size(), 0.0);
  const DeviceModel d = c.devices();
  for (std::size_t t = 0; t < layout.layers[0].tiles.size(); ++t) {
    const TilePlacement& p = layout.layers[0].tiles[t];
    std::vector<double> gp(256), gn(256);
    program_tile(m.matrix, m.outputs, m.layer, t, p, 16, 16, m.scale, d, gp.data(), gn.data());
    TileBatch one;
    one.resistances = {c.res};
    one.add(16, 16, gp.data());
    const std::vector<double> tp = transfer_matrices(one, Backend::Reference);
    TileBatch two;
    two.resistances = {c.res};
    two.add(16, 16, gn.data());
    const std::vector<double> tn = transfer_matrices(two, Backend::Reference);
    add_effective_weights(p, 16, tp.data(), tn.data(), m.scale / (d.g_max - d.g_min), m.outputs, w.data());
  }
  double worst = 0.0;
  for (std::size_t k = 0; k < w.size(); ++k)
    worst = std::max(worst, std::fabs(eff[0].w_eff[k] - w[k]) / m.scale);
  EXPECT_LT(worst, 1e-6);
  EXPECT_GT(eff[0].stats.nf_sum / eff[0].stats.nf_columns, 0.0);
}

TEST(Scheduler, IndependentOfBatchingAndThreads) {
  const std::vector<MappedLayer> layers = {mapped("a", 50, 30, 7), mapped("b", 30, 10, 8)};
  CrossbarConfig c;
  c.tile_rows = c.tile_cols = 16;
  c.variation_sigma = 0.1;
  c.stuck_at_gmin = 0.01;
  c.stuck_at_gmax = 0.01;
  const NetworkLayout layout = dense_network_layout(layers, 16, 16);
  SchedulerOptions big, small;
  small.max_batch_bytes = 1;  // one tile position per batch
  const int threads = omp_get_max_threads();
  const auto a = effective_weights(layers, layout, c, big);
  omp_set_num_threads(1);
  ScheduleStats st;
  const auto b = effective_weights(layers, layout, c, small, &st);
  omp_set_num_threads(threads);
  EXPECT_EQ(st.batches, 4u * 2u + 2u * 1u);
  for (std::size_t l = 0; l < a.size(); ++l) {
    EXPECT_EQ(a[l].w_eff, b[l].w_eff);
    EXPECT_EQ(a[l].stats.low_devices, b[l].stats.low_devices);
  }
  c.seed = 2;
  const auto other = effective_weights(layers, layout, c, big);
  EXPECT_NE(other[0].w_eff, a[0].w_eff);
}

// Crossbars = 2 x sum over layers of ceil(K/R) * ceil(N/C), K = C_in * 9 for a conv, N = C_out.
TEST(CrossbarCount, Vgg11AndVgg16AtWidthOne) {
  std::unique_ptr<nn::Backend> b = nn::make_cpu_backend();
  const auto count = [&](const std::string& model, int tile) {
    nn::VggConfig c;
    c.model = model;
    nn::Vgg vgg(c, *b);
    return dense_network_layout(mapped_layers(vgg), tile, tile).crossbars();
  };
  // VGG11 (K x N): 27x64, 576x128, 1152x256, 2304x256, 2304x512, 3 x 4608x512, classifier 512x10.
  //  64: 1 + 9*2 + 18*4 + 36*4 + 36*8 + 3*(72*8) + 8*1 = 2259 positions
  //  32: 1*2 + 18*4 + 36*8 + 72*8 + 72*16 + 3*(144*16) + 16*1 = 9018
  //  16: 2*4 + 36*8 + 72*16 + 144*16 + 144*32 + 3*(288*32) + 32*1 = 36040
  EXPECT_EQ(count("vgg11", 64), 2 * 2259);
  EXPECT_EQ(count("vgg11", 32), 2 * 9018);
  EXPECT_EQ(count("vgg11", 16), 2 * 36040);
  // VGG16: 27x64, 576x64, 576x128, 1152x128, 1152x256, 2 x 2304x256, 2304x512, 5 x 4608x512, 512x10.
  //  64: 1 + 9 + 9*2 + 18*2 + 18*4 + 2*(36*4) + 36*8 + 5*(72*8) + 8 = 3600
  //  32: 2 + 18*2 + 18*4 + 36*4 + 36*8 + 2*(72*8) + 72*16 + 5*(144*16) + 16 = 14382
  //  16: 2*4 + 36*4 + 36*8 + 72*8 + 72*16 + 2*(144*16) + 144*32 + 5*(288*32) + 32 = 57496
  EXPECT_EQ(count("vgg16", 64), 2 * 3600);
  EXPECT_EQ(count("vgg16", 32), 2 * 14382);
  EXPECT_EQ(count("vgg16", 16), 2 * 57496);
}

TEST(CrossbarConfig, KeysPresetsAndErrors) {
  const CrossbarConfig c = crossbar_config_from_json(
      nlohmann::json{{"preset", "wire-28"}, {"r_source", 250}, {"tile_rows", 32}, {"seed", 9}}, "x.json");
  EXPECT_EQ(c.res.r_wire_row, 28.0);
  EXPECT_EQ(c.res.r_source, 250.0);
  EXPECT_EQ(c.tile_rows, 32);
  EXPECT_EQ(c.seed, 9u);
  const CrossbarConfig back = crossbar_config_from_json(c.to_json(), "round trip");
  EXPECT_EQ(back.to_json(), c.to_json());
  for (const std::string& p : crossbar_presets()) EXPECT_NO_THROW(crossbar_preset(p).check(p));
  // mild: the three parasitics of default scaled by 0.6, exactly; devices unchanged.
  const CrossbarConfig mild = crossbar_preset("mild"), base = crossbar_preset("default");
  EXPECT_EQ(mild.res.r_source, 300.0);
  EXPECT_EQ(mild.res.r_sink, 60.0);
  EXPECT_EQ(mild.res.r_wire_row, 1.5);
  EXPECT_EQ(mild.res.r_wire_col, 1.5);
  EXPECT_EQ(mild.r_on, base.r_on);
  EXPECT_EQ(mild.r_off, base.r_off);
  EXPECT_EQ(crossbar_config_from_json(mild.to_json(), "round trip").to_json(), mild.to_json());

  const auto error_of = [](const nlohmann::json& j) -> std::string {
    try {
      crossbar_config_from_json(j, "x.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of({{"r_wire_rows", 1}}).find("\"r_wire_rows\": unknown key"), std::string::npos);
  EXPECT_NE(error_of({{"r_sink", -1}}).find("r_sink = -1"), std::string::npos);
  EXPECT_NE(error_of({{"r_off", 1000}}).find("r_off"), std::string::npos);
  EXPECT_NE(error_of({{"tile_rows", 0}}).find("tile_rows"), std::string::npos);
  EXPECT_NE(error_of({{"levels", 1}}).find("levels"), std::string::npos);
  EXPECT_NE(error_of({{"stuck_at_gmin", 0.7}, {"stuck_at_gmax", 0.7}}).find("exceeds 1"), std::string::npos);
  EXPECT_NE(error_of({{"v_read", "high"}}).find("must be a number"), std::string::npos);
  EXPECT_NE(error_of({{"preset", "nope"}}).find("unknown crossbar preset"), std::string::npos);

  CrossbarConfig s;
  apply_setting(s, "r_wire=5");
  EXPECT_EQ(s.res.r_wire_col, 5.0);
  EXPECT_THROW(apply_setting(s, "r_wire"), Error);
  EXPECT_THROW(apply_setting(s, "bogus=1"), Error);
  EXPECT_THROW(apply_setting(s, "r_source=nan"), Error);
  int r = 0, cc = 0;
  parse_tile_size("32x64", r, cc, "--tile");
  EXPECT_EQ(r, 32);
  EXPECT_EQ(cc, 64);
  EXPECT_THROW(parse_tile_size("32x", r, cc, "--tile"), Error);
  EXPECT_THROW(parse_tile_size("2000", r, cc, "--tile"), Error);
}

TEST(WeffCache, RoundTripAndKeys) {
  const std::vector<MappedLayer> layers = {mapped("a", 20, 12, 11)};
  CrossbarConfig c;
  c.tile_rows = c.tile_cols = 8;
  const NetworkLayout layout = dense_network_layout(layers, 8, 8);
  const auto eff = effective_weights(layers, layout, c, SchedulerOptions{});
  const std::string key = weff_cache_key(layers, layout, c);
  const WeffCacheEntry entry = weff_cache_entry(test::fresh_dir("weff").string(), weff_cache_identity(layers, layout, c));
  const std::string& path = entry.path;
  EXPECT_EQ(path, weff_cache_path(test::fresh_dir("weff").string(), key));
  EXPECT_FALSE(load_weff_cache(entry, layout));
  EXPECT_TRUE(store_weff_cache(entry, eff));
  const auto back = load_weff_cache(entry, layout);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)[0].w_eff, eff[0].w_eff);
  EXPECT_EQ((*back)[0].stats.nf_max, eff[0].stats.nf_max);

  CrossbarConfig c2 = c;
  c2.seed = 2;
  EXPECT_NE(weff_cache_key(layers, layout, c2), key);
  std::vector<MappedLayer> l2 = layers;
  l2[0].matrix[3] += 1e-3f;
  EXPECT_NE(weff_cache_key(l2, layout, c), key);
  CrossbarConfig renamed = c;
  renamed.preset = "other";
  EXPECT_EQ(weff_cache_key(layers, layout, renamed), key);

  { std::ofstream(path, std::ios::trunc) << "garbage"; }
  std::string warning;
  EXPECT_FALSE(load_weff_cache(entry, layout, {}, [&](const std::string& w) { warning = w; }));  // a miss
  EXPECT_NE(warning.find(path), std::string::npos) << warning;
}

}  // namespace
}  // namespace sxb
