// Mapping-scale policies (engine/crossbar/mapping_scale.h): every mode gives
// the software weights back on an ideal crossbar (percentile: clipped weights
// aside, and counted), per-tile and per-column scales raise the share of
// high-conductance devices, and the configuration keys and scale sources.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/mapping_scale.h"
#include "engine/crossbar/scheduler.h"
#include "engine/crossbar/wct.h"
#include "engine/evaluation/crossbar_render.h"
#include "engine/evaluation/crossbar_eval.h"
#include "engine/data/dataset.h"
#include "kernels/common/error.h"
#include "models/nn_backend.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

// Columns of different strength, one all-zero column and one all-zero
// 16 x 16 block (tile (1, 1) of a dense 16 x 16 tiling), so every scale rule
// and the all-zero rule are exercised.
MappedLayer uneven_layer(const std::string& name, int K, int N, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> z(0.0f, 1.0f);
  std::uniform_real_distribution<float> strength(0.05f, 1.0f);
  MappedLayer m{name, K, N, std::vector<float>(static_cast<std::size_t>(K) * N), 0.0};
  std::vector<float> column(N);
  for (float& c : column) c = strength(rng);
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) {
      const bool zero = n == 3 || (k >= 16 && k < 32 && n >= 16 && n < 32);
      m.matrix[static_cast<std::size_t>(k) * N + n] = zero ? 0.0f : column[n] * z(rng);
    }
  return m;
}

CrossbarConfig config_with(ScaleMode mode, double percentile = 99.9) {
  CrossbarConfig c = crossbar_preset("default");
  c.tile_rows = c.tile_cols = 16;
  c.scale_mode = mode;
  c.scale_percentile = percentile;
  return c;
}

std::vector<LayerEffective> ideal_weights(std::vector<MappedLayer>& layers, const CrossbarConfig& c) {
  assign_mapping_scales(layers, c, std::nullopt);
  SchedulerOptions o;
  o.ideal = true;
  return effective_weights(layers, dense_network_layout(layers, c.tile_rows, c.tile_cols), c, o);
}

double high_share(const LayerEffective& e) {
  return static_cast<double>(e.stats.devices - e.stats.low_devices) / static_cast<double>(e.stats.devices);
}

TEST(MappingScale, NamesAndPercentile) {
  for (const std::string& name : scale_mode_names()) EXPECT_EQ(to_string(parse_scale_mode(name, "x")), name);
  EXPECT_THROW(parse_scale_mode("global", "crossbar.scale_mode"), Error);
  std::vector<float> v;
  for (int k = 1; k <= 1000; ++k) v.push_back(k % 2 ? static_cast<float>(k) : -static_cast<float>(k));
  v.insert(v.end(), 500, 0.0f);  // zeros do not count
  EXPECT_EQ(percentile_abs(v, 100.0), 1000.0);
  EXPECT_EQ(percentile_abs(v, 99.9), 999.0);
  EXPECT_EQ(percentile_abs(v, 50.0), 500.0);
  EXPECT_EQ(percentile_abs(v, 0.05), 1.0);
  EXPECT_EQ(percentile_abs(std::vector<float>(10, 0.0f), 99.0), 1.0);
  EXPECT_THROW(percentile_abs(v, 0.0), Error);
}

TEST(MappingScale, TileAndColumnScales) {
  const MappedLayer m = uneven_layer("l", 40, 50, 1);
  const TilePlacement p{{0, 1, 2, 5}, {2, 3, 7}};
  std::vector<double> col(3, 0.0);
  for (int k : p.rows)
    for (std::size_t j = 0; j < 3; ++j)
      col[j] = std::max(col[j], std::fabs(static_cast<double>(m.matrix[k * 50 + p.cols[j]])));
  EXPECT_EQ(tile_column_scales(m.matrix, 50, p, ScaleMode::LayerMax, 0.7), std::vector<double>(3, 0.7));
  EXPECT_EQ(tile_column_scales(m.matrix, 50, p, ScaleMode::Percentile, 0.7), std::vector<double>(3, 0.7));
  EXPECT_EQ(tile_column_scales(m.matrix, 50, p, ScaleMode::ColumnMax, 0.7), (std::vector<double>{col[0], 1.0, col[2]}));
  EXPECT_EQ(tile_column_scales(m.matrix, 50, p, ScaleMode::TileMax, 0.7),
            std::vector<double>(3, std::max(col[0], col[2])));
  const TilePlacement zero{{16, 17}, {16, 20}};  // all-zero weights: nothing to map
  EXPECT_EQ(tile_column_scales(m.matrix, 50, zero, ScaleMode::TileMax, 0.7), std::vector<double>(2, 1.0));
}

// Ideal crossbar: W_eff = W for every mode (no clipping), and the per-tile
// and per-column modes raise the high-conductance share.
TEST(MappingScale, EveryModeGivesTheWeightsBackOnAnIdealCrossbar) {
  double share_layer = 0.0;
  for (ScaleMode mode : {ScaleMode::LayerMax, ScaleMode::TileMax, ScaleMode::ColumnMax, ScaleMode::Percentile}) {
    SCOPED_TRACE(to_string(mode));
    std::vector<MappedLayer> layers = {uneven_layer("features.0", 40, 50, 1), uneven_layer("classifier", 24, 10, 2)};
    const auto eff = ideal_weights(layers, config_with(mode, 100.0));
    for (std::size_t l = 0; l < layers.size(); ++l) {
      EXPECT_EQ(eff[l].clipped, 0);
      const double s = max_abs(layers[l].matrix);
      EXPECT_EQ(layers[l].scale, s);  // percentile 100 is max |W|; tile/column-max keep it as the reference
      for (std::size_t k = 0; k < layers[l].matrix.size(); ++k)
        ASSERT_NEAR(eff[l].w_eff[k], layers[l].matrix[k], 1e-6 * s) << layers[l].layer << " " << k;
      const MinMeanMax& t = eff[l].tile_high_share;
      EXPECT_LE(t.min, t.mean);
      EXPECT_LE(t.mean, t.max);
      EXPECT_NEAR(t.mean, high_share(eff[l]), 1e-12);  // equal tiles: the layer's share is the tiles' mean
      EXPECT_LE(eff[l].column_scale.min, eff[l].column_scale.max);
    }
    const double share = high_share(eff[0]);
    if (mode == ScaleMode::LayerMax) {
      share_layer = share;
      EXPECT_EQ(eff[0].column_scale.min, eff[0].column_scale.max);
    } else if (mode == ScaleMode::TileMax) {
      EXPECT_GT(share, share_layer);
      EXPECT_EQ(eff[0].column_scale.min, 1.0);  // the all-zero tile
    } else if (mode == ScaleMode::ColumnMax) {
      EXPECT_GT(share, share_layer);
      EXPECT_EQ(eff[0].tile_high_share.min, 0.0);  // the all-zero tile: every device at G_min
    }
  }
  // Layer-max is the mapping it always was: exactly W on an ideal crossbar.
  std::vector<MappedLayer> layers = {uneven_layer("features.0", 40, 50, 1)};
  EXPECT_EQ(ideal_weights(layers, config_with(ScaleMode::LayerMax))[0].w_eff, layers[0].matrix);
}

TEST(MappingScale, ColumnMaxRaisesTheHighShareOfARandomLayerAboveTileMax) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> z(0.0f, 0.1f);
  double share[3] = {};
  int i = 0;
  for (ScaleMode mode : {ScaleMode::LayerMax, ScaleMode::TileMax, ScaleMode::ColumnMax}) {
    std::vector<MappedLayer> layers = {{"l", 64, 64, std::vector<float>(64 * 64), 0.0}};
    std::mt19937_64 r = rng;
    for (float& w : layers[0].matrix) w = z(r);
    share[i++] = high_share(ideal_weights(layers, config_with(mode))[0]);
  }
  EXPECT_LT(share[0], share[1]);
  EXPECT_LT(share[1], share[2]);
}

TEST(MappingScale, PercentileClipsAndCountsTheLargestWeights) {
  std::vector<MappedLayer> layers = {uneven_layer("features.0", 40, 50, 3)};
  const std::vector<float> w = layers[0].matrix;
  const auto eff = ideal_weights(layers, config_with(ScaleMode::Percentile, 90.0));
  const double s = layers[0].scale;
  std::vector<float> a;
  for (float x : w)
    if (x != 0.0f) a.push_back(std::fabs(x));
  std::sort(a.begin(), a.end());
  EXPECT_EQ(s, a[static_cast<std::size_t>(std::ceil(0.9 * a.size())) - 1]);
  long long above = 0;
  for (std::size_t k = 0; k < w.size(); ++k) {
    const double expected = std::clamp(static_cast<double>(w[k]), -s, s);
    above += std::fabs(w[k]) > s;
    ASSERT_NEAR(eff[0].w_eff[k], expected, 1e-6 * s) << k;
  }
  EXPECT_GT(above, 0);
  EXPECT_EQ(eff[0].clipped, above);
}

TEST(MappingScale, ConfigurationKeysAndSources) {
  CrossbarConfig c = crossbar_config_from_json(
      nlohmann::json{{"scale_mode", "column-max"}, {"scale_percentile", 99.0}}, "test.json");
  EXPECT_EQ(c.scale_mode, ScaleMode::ColumnMax);
  EXPECT_EQ(c.to_json()["scale_mode"], "column-max");
  EXPECT_EQ(crossbar_config_from_json(c.to_json(), "again").to_json(), c.to_json());
  // Defaults are left out of the JSON, so that sweep ids of earlier files stay as they were.
  EXPECT_FALSE(crossbar_preset("default").to_json().contains("scale_mode"));
  EXPECT_FALSE(c.to_json().contains("scale_percentile")) << "used by percentile only";
  apply_setting(c, "scale_mode=percentile");
  EXPECT_EQ(c.scale_mode, ScaleMode::Percentile);
  EXPECT_EQ(c.to_json()["scale_percentile"], 99.0);
  EXPECT_EQ(crossbar_config_from_json(c.to_json(), "again").to_json(), c.to_json());
  const auto error_of = [](const nlohmann::json& j) {
    try {
      crossbar_config_from_json(j, "x.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of({{"scale_mode", "global"}}).find("scale_mode"), std::string::npos);
  EXPECT_NE(error_of({{"scale_mode", "tile-max"}, {"scale", 0.5}}).find("layer-max only"), std::string::npos);
  EXPECT_NE(error_of({{"scale_percentile", 0}}).find("scale_percentile"), std::string::npos);
  EXPECT_NE(error_of({{"scale_percentile", 100.5}}).find("scale_percentile"), std::string::npos);

  // WCT scales and config.scale belong to layer-max; the other modes name themselves.
  WctScales wct;
  wct.kappa = 0.5;
  wct.s_ref = {{"features.0", 0.25}};
  std::vector<MappedLayer> layers = {uneven_layer("features.0", 40, 50, 1)};
  EXPECT_EQ(assign_mapping_scales(layers, config_with(ScaleMode::LayerMax), wct).at("features.0"), kScaleFromWct);
  EXPECT_EQ(layers[0].scale, 0.25);
  EXPECT_EQ(assign_mapping_scales(layers, config_with(ScaleMode::TileMax), wct).at("features.0"), kScaleFromTileMax);
  EXPECT_EQ(layers[0].scale, max_abs(layers[0].matrix));
  EXPECT_EQ(assign_mapping_scales(layers, config_with(ScaleMode::Percentile, 50.0), wct).at("features.0"),
            kScaleFromPercentile);
  EXPECT_EQ(layers[0].scale, percentile_abs(layers[0].matrix, 50.0));
}

// evaluate with tile-max: the ideal crossbar still matches the software model,
// the report carries the shares and scales per layer, and a cache hit gives
// the same report.
TEST(MappingScale, EvaluateReportsTheHighShareAndSurvivesTheCache) {
  auto backend = nn::make_cpu_backend();
  nn::VggConfig vc;
  vc.width = 0.0625;
  nn::Vgg model(vc, *backend);
  model.init(5);
  const Dataset test_set = load_dataset("synthetic:40", Split::Test);
  CrossbarEvalOptions o;
  o.backend = Backend::Cpu;
  o.crossbar = config_with(ScaleMode::TileMax);
  o.cache_dir = test::fresh_dir("mapping_scale_cache").string();
  const CrossbarEvalResult r = evaluate_on_crossbars(model, test_set, Normalization{}, o);
  EXPECT_EQ(r.ideal.predicted, r.software.predicted);
  EXPECT_FALSE(r.report.cache_hit);
  const nlohmann::json report = to_json(r.report);
  EXPECT_EQ(report["crossbar"]["scale_mode"], "tile-max");
  for (const nlohmann::json& l : report["layers"]) {
    EXPECT_EQ(l["scale_source"], "tile_max");
    EXPECT_NEAR(l["high_conductance_share"].get<double>() + l["low_conductance_share"].get<double>(), 1.0, 1e-12);
    EXPECT_LE(l["tile_high_share"]["min"].get<double>(), l["tile_high_share"]["max"].get<double>());
    EXPECT_LE(l["column_scale"]["max"].get<double>(), l["scale"].get<double>());
  }
  const std::string table = crossbar_table(r.report);  // the table says where s came from
  EXPECT_NE(table.find("each tile programmed to its own max|W|"), std::string::npos) << table;
  WctScales wct;  // a WCT model's s_ref is not used by tile-max: the report warns
  wct.kappa = 0.5;
  wct.file = "wct.safetensors";
  for (const LayerReport& l : r.report.layers) wct.s_ref[l.layer] = l.scale;
  o.wct = wct;
  const CrossbarEvalResult again = evaluate_on_crossbars(model, test_set, Normalization{}, o);
  EXPECT_TRUE(again.report.cache_hit);
  EXPECT_EQ(to_json(again.report)["layers"], report["layers"]);
  EXPECT_EQ(std::count_if(again.report.warnings.begin(), again.report.warnings.end(),
                          [](const std::string& w) { return w.find("crossbar.scale_mode tile-max replaces") == 0; }),
            1);
  EXPECT_EQ(std::count_if(r.report.warnings.begin(), r.report.warnings.end(),
                          [](const std::string& w) { return w.find("crossbar.scale_mode") == 0; }),
            0);
}

}  // namespace
}  // namespace sxb
