// The tile-level forward in a network evaluation: converter keys at 0 change
// nothing, 16-bit converters on an ideal crossbar reproduce the software
// model, ranges follow their definition (range images, network order,
// percentile), weight slices are programmed as defined, both read-outs come
// from one solve, packed XCS/XRS layouts run, the report carries the ranges.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/converters/converter_network.h"
#include "engine/evaluation/crossbar_eval.h"
#include "engine/pruning/pruning.h"
#include "engine/studies/sweep.h"
#include "tests/support/random_vgg.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

class ConverterEval : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = nn::make_cpu_backend();
    model_ = test_support::random_vgg(*backend_, "vgg11", 0.125, 3, 4, 0.1f);
    options_.backend = Backend::Cpu;
    options_.crossbar = crossbar_preset("default");
    options_.crossbar.tile_rows = options_.crossbar.tile_cols = 32;
    options_.bn_train = &train_;
  }
  CrossbarEvalResult run(const CrossbarEvalOptions& o, const Dataset& test) {
    return evaluate_on_crossbars(*model_, test, norm_, o);
  }
  static double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) d = std::max(d, static_cast<double>(std::fabs(a[k] - b[k])));
    return d;
  }

  const Dataset train_ = load_dataset("synthetic:70", Split::Train);
  const Dataset test_ = load_dataset("synthetic:40", Split::Test);
  const Normalization norm_{{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};  // signed first-layer inputs
  std::unique_ptr<nn::Backend> backend_;
  std::unique_ptr<nn::Vgg> model_;
  CrossbarEvalOptions options_;
};

TEST_F(ConverterEval, KeysAtTheirDefaultsAreBitIdentical) {
  const CrossbarEvalResult plain = run(options_, test_);
  CrossbarEvalOptions o = options_;
  o.crossbar.adc_range_percentile = 50.0;  // keys that only matter with a converter on
  o.crossbar.range_images = 3;
  const CrossbarEvalResult same = run(o, test_);
  EXPECT_EQ(same.nonideal.logits, plain.nonideal.logits);
  EXPECT_EQ(same.report.crossbars, plain.report.crossbars);
  for (const LayerReport& l : plain.report.layers) {
    EXPECT_FALSE(l.converters.has_value());
    EXPECT_EQ(l.slices, 1);
  }
  EXPECT_TRUE(to_json(plain.report)["layers"][0]["converters"].is_null());
  // Keeping the pairs' weights does not change W_eff by a bit.
  const std::vector<MappedLayer> layers = [&] {
    std::vector<MappedLayer> m = mapped_layers(*model_);
    for (MappedLayer& x : m) x.scale = mapping_scale(x.matrix, options_.crossbar);
    return m;
  }();
  const NetworkLayout layout = dense_network_layout(layers, 32, 32);
  SchedulerOptions so;
  so.calibrations = {Calibration::None, Calibration::Column, Calibration::Layer};
  const std::vector<LayerEffective> a = effective_weights(layers, layout, options_.crossbar, so);
  so.pair_weights = true;
  const std::vector<LayerEffective> b = effective_weights(layers, layout, options_.crossbar, so);
  for (std::size_t l = 0; l < a.size(); ++l) {
    for (Calibration c : so.calibrations) EXPECT_EQ(a[l].weights(c), b[l].weights(c)) << a[l].layer;
    EXPECT_TRUE(a[l].pairs.empty());
    EXPECT_EQ(b[l].pairs.size(), b[l].positions);
  }
}

TEST_F(ConverterEval, SixteenBitConvertersOnAnIdealCrossbarAreTheSoftwareModel) {
  const Dataset test = load_dataset("synthetic:500", Split::Test);
  CrossbarEvalOptions o = options_;
  o.crossbar = crossbar_preset("ideal");
  o.crossbar.tile_rows = o.crossbar.tile_cols = 32;
  o.crossbar.dac_bits = o.crossbar.adc_bits = 16;
  const CrossbarEvalResult r = run(o, test);
  EXPECT_NEAR(r.nonideal.accuracy, r.software.accuracy, 0.002);
  double top = 0.0;
  for (float z : r.software.logits) top = std::max(top, static_cast<double>(std::fabs(z)));
  EXPECT_LT(max_abs_difference(r.nonideal.logits, r.software.logits), 0.01 * top);
  // 4-bit converters are far from it: the test can fail.
  o.crossbar.dac_bits = o.crossbar.adc_bits = 4;
  EXPECT_GT(max_abs_difference(run(o, test_).nonideal.logits, std::vector<float>(r.software.logits.begin(),
                                                                                   r.software.logits.begin() + 40 * 10)),
            0.05 * top);
}

TEST_F(ConverterEval, RangesFollowTheirDefinition) {
  CrossbarConfig c = options_.crossbar;
  c.dac_bits = 6;
  c.adc_bits = 6;
  c.adc_range_percentile = 99.0;
  c.range_images = 16;
  std::vector<MappedLayer> layers = mapped_layers(*model_);
  for (MappedLayer& m : layers) m.scale = mapping_scale(m.matrix, c);
  const NetworkLayout layout = dense_network_layout(layers, 32, 32);
  SchedulerOptions so;
  so.pair_weights = true;
  const std::vector<LayerEffective> eff = effective_weights(layers, layout, c, so);
  ConverterNetwork net(eff, layout, c);
  net.set_ranges(*model_, train_, norm_);

  // The range images: floor(k * 70 / 16), normalised.
  std::vector<int> indices(16);
  for (int k = 0; k < 16; ++k) indices[k] = k * 70 / 16;
  std::vector<float> images(16 * kImageBytes);
  std::vector<int> labels(16);
  make_batch(train_, indices.data(), 16, norm_, nullptr, 0, images.data(), labels.data());
  double max_x = 0.0;
  for (float v : images) max_x = std::max(max_x, static_cast<double>(std::fabs(v)));
  EXPECT_EQ(net.ranges(0).dac.range, max_x);
  EXPECT_TRUE(net.ranges(0).dac.is_signed);
  // The first layer's ADC range: the 99th percentile of |u| with DAC-quantised inputs.
  const nn::Conv2dShape shape{16, 3, 32, 32, eff[0].outputs, 3, 3, 1, 1};
  LayerRanges dac_only{net.ranges(0).dac, {}};
  std::vector<AbsPercentile> collect(1, AbsPercentile(99.0));
  ConverterSettings s = ConverterSettings::of(c);
  s.adc_bits = 0;
  tile_layer_forward(net.layer(0), s, dac_only, LayerInput{images.data(), 16, &shape}, nullptr, nullptr, nullptr,
                     &collect);
  collect[0].start_second_pass();
  tile_layer_forward(net.layer(0), s, dac_only, LayerInput{images.data(), 16, &shape}, nullptr, nullptr, nullptr,
                     &collect);
  EXPECT_EQ(net.ranges(0).adc.at(0), collect[0].value());
  // The second mapped layer's DAC range: max |x| of its input with the first layer on its converters.
  nn::Tensor x = nn::from_host(*backend_, {16, 3, 32, 32}, images);
  std::vector<float> second;
  net.run_with(*model_, [&] {
    second = nn::to_host(*backend_, model_->forward_to(eff[1].layer, x, nn::ForwardContext{nn::Mode::Eval}));
  });
  double max_second = 0.0, min_second = 0.0;
  for (float v : second) {
    max_second = std::max(max_second, static_cast<double>(std::fabs(v)));
    min_second = std::min(min_second, static_cast<double>(v));
  }
  EXPECT_EQ(net.ranges(1).dac.range, max_second);
  EXPECT_FALSE(net.ranges(1).dac.is_signed);  // after ReLU
  EXPECT_EQ(min_second, 0.0);
  for (std::size_t l = 0; l < eff.size(); ++l) EXPECT_GT(net.ranges(l).adc.at(0), 0.0) << eff[l].layer;
}

TEST_F(ConverterEval, WeightSlicesAreProgrammedAsDefined) {
  for (const int cell : {8, 4, 2}) {
    CrossbarConfig c = crossbar_preset("ideal");
    c.weight_bits = 8;
    c.cell_bits = cell;
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    MappedLayer m{"layer", 20, 10, std::vector<float>(200), 0.0};
    for (float& w : m.matrix) w = u(rng);
    m.scale = mapping_scale(m.matrix, c);
    NetworkLayout layout;
    layout.tile_rows = 8;
    layout.tile_cols = 4;
    layout.layers.push_back(dense_layout("layer", 20, 10, 8, 4));
    SchedulerOptions so;
    so.ideal = true;
    so.pair_weights = true;
    const LayerEffective e = effective_weights({m}, layout, c, so).front();
    const int S = 8 / cell, top = (1 << cell) - 1;
    ASSERT_EQ(e.slices, S);
    ASSERT_EQ(e.pairs.size(), e.positions * S);
    for (int k = 0; k < S; ++k)
      for (std::size_t t = 0; t < e.positions; ++t) {
        const TilePlacement& p = layout.layers[0].tiles[t];
        const PairEffective& pair = e.pairs[k * e.positions + t];
        for (std::size_t j = 0; j < p.cols.size(); ++j)
          for (std::size_t i = 0; i < p.rows.size(); ++i) {
            const double w = m.matrix[p.rows[i] * 10 + p.cols[j]];
            const long long q = std::llround(std::fabs(w) / m.scale * 255.0);
            const int d = static_cast<int>((q >> (k * cell)) & top);
            EXPECT_NEAR(pair.weights[0][j * p.rows.size() + i], std::copysign(d * m.scale / top, w), 1e-6)
                << cell << " " << k;
          }
      }
    // The slices' digital combination: x s q / (2^B - 1).
    for (int i = 0; i < 200; ++i) {
      const double w = m.matrix[i];
      EXPECT_NEAR(e.w_eff[i], std::copysign(std::llround(std::fabs(w) / m.scale * 255.0) * m.scale / 255.0, w), 1e-6);
    }
  }
}

TEST_F(ConverterEval, BothReadoutsFromOneSolveWithTheirRangesInTheReport) {
  CrossbarEvalOptions o = options_;
  o.crossbar.adc_bits = o.crossbar.dac_bits = 6;
  o.crossbar.range_images = 20;
  o.evaluation.calibrations = {Calibration::None, Calibration::Column};
  o.evaluation.bn_recalibrate = 20;
  const CrossbarEvalResult r = run(o, test_);
  const CrossbarReport& rep = r.report;
  ASSERT_EQ(rep.variants.size(), 4u);
  long long positions = 0;
  for (const LayerReport& l : rep.layers) positions += static_cast<long long>(l.positions);
  EXPECT_EQ(rep.schedule.tiles, static_cast<std::size_t>(2 * positions)) << "one solve";
  EXPECT_EQ(rep.variants[0].result.accuracy, rep.nonideal.accuracy);
  for (const VariantReport& v : rep.variants) {
    ASSERT_EQ(v.converters.size(), rep.layers.size()) << v.name();
    for (const LayerConverters& c : v.converters) {
      EXPECT_GT(c.dac.range, 0.0);
      ASSERT_EQ(c.adc.size(), 1u);
      EXPECT_GT(c.adc[0], 0.0);
      EXPECT_GT(c.counts.reads, 0);
      EXPECT_LE(c.clipped_share(), 1.0);
    }
  }
  // Column calibration changes the ADC ranges of the same solve.
  EXPECT_NE(rep.variants[0].converters[0].adc[0], rep.variants[1].converters[0].adc[0]);
  const nlohmann::json j = to_json(rep);
  EXPECT_EQ(j["layers"][0]["converters"]["adc_range"][0].get<double>(), rep.layers[0].converters->adc[0]);
  EXPECT_EQ(j["variants"][1]["converters"].size(), rep.layers.size());
  EXPECT_EQ(j["crossbar"]["adc_bits"], 6);
  // The same with one thread: bit-identical.
  {
    test::ThreadCount one(1);
    CrossbarEvalOptions first = o;
    first.evaluation.calibrations = {Calibration::None};
    first.evaluation.bn_recalibrate = 0;
    const CrossbarEvalResult single = run(first, test_);
    EXPECT_EQ(single.nonideal.loss, rep.variants[0].result.loss);
    EXPECT_EQ(single.report.layers[0].converters->adc[0], rep.layers[0].converters->adc[0]);
  }
  // Each read-out equals a run that asks for it alone.
  CrossbarEvalOptions column = o;
  column.evaluation.calibrations = {Calibration::Column};
  column.evaluation.bn_recalibrate = 0;
  EXPECT_EQ(run(column, test_).nonideal.loss, rep.variants[1].result.loss);
}

TEST_F(ConverterEval, PackedLayoutsAndSlicesAtSixteenBitsAreTheWeffPath) {
  CrossbarEvalOptions o = options_;
  o.crossbar = crossbar_preset("ideal");
  o.crossbar.tile_rows = o.crossbar.tile_cols = 16;
  std::vector<MappedLayer> layers = mapped_layers(*model_);
  for (const PruneMethod method : {PruneMethod::ColumnSegments, PruneMethod::RowSegments}) {
    NetworkLayout layout;
    layout.method = method_name(method);
    layout.tile_rows = layout.tile_cols = 16;
    std::mt19937_64 rng(9);
    for (const MappedLayer& m : layers) {
      const GroupGeometry g{method, m.inputs, m.outputs, 16, 16};
      std::vector<std::uint8_t> keep(g.count());
      for (auto& k : keep) k = rng() % 3 != 0;
      layout.layers.push_back(packed_layout(m.layer, g, keep));
    }
    o.layout = layout;
    o.crossbar.dac_bits = o.crossbar.adc_bits = o.crossbar.weight_bits = 0;
    const CrossbarEvalResult weff = run(o, test_);
    double top = 0.0;
    for (float z : weff.nonideal.logits) top = std::max(top, static_cast<double>(std::fabs(z)));
    o.crossbar.dac_bits = o.crossbar.adc_bits = 16;
    const CrossbarEvalResult tiles = run(o, test_);
    EXPECT_LT(max_abs_difference(tiles.nonideal.logits, weff.nonideal.logits), 0.01 * top) << layout.method;
    o.crossbar.weight_bits = 16;
    o.crossbar.cell_bits = 4;
    const CrossbarEvalResult sliced = run(o, test_);
    EXPECT_LT(max_abs_difference(sliced.nonideal.logits, weff.nonideal.logits), 0.01 * top) << layout.method;
    EXPECT_EQ(sliced.report.crossbars, 4 * weff.report.crossbars);
    EXPECT_EQ(sliced.report.layers[0].slices, 4);
    o.crossbar.cell_bits = 0;
  }
}

TEST(ConverterSweep, TheKeysReachThePointAndItsIdOnlyWhenSet) {
  const nlohmann::json base = {{"data", "synthetic:64"}, {"train", {{"epochs", 1}}}};
  const SweepPointConfig plain = sweep_point_from_json(base, "p");
  nlohmann::json defaults = base;
  defaults["crossbar"] = {{"dac_bits", 0}, {"adc_bits", 0}, {"adc_range_percentile", 100}, {"range_images", 64},
                          {"weight_bits", 0}, {"cell_bits", 0}, {"input_bits_per_pulse", 0}};
  EXPECT_EQ(sweep_point_from_json(defaults, "p").id_json(), plain.id_json()) << "the defaults add nothing to the id";
  nlohmann::json set = base;
  set["crossbar"] = {{"adc_bits", 6}, {"dac_bits", 6}, {"weight_bits", 8}, {"cell_bits", 2}};
  const SweepPointConfig c = sweep_point_from_json(set, "p");
  EXPECT_EQ(c.crossbar.adc_bits, 6);
  EXPECT_EQ(c.crossbar.slices(), 4);
  EXPECT_NE(c.id_json(), plain.id_json());
  nlohmann::json bad = base;
  bad["crossbar"] = {{"adc_bits", 1}};
  EXPECT_NE(test::error_of([&] { sweep_point_from_json(bad, "p"); }).find("adc_bits"), std::string::npos);
}

}  // namespace
}  // namespace sxb
