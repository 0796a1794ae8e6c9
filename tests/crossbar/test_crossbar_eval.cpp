// A trained network on crossbars, end to end: zero parasitics reproduce the
// software model exactly, accuracy falls as the wire resistance grows, the
// W_eff cache is used, and the self-checks warn about clipping and
// chance-level models.
#include <gtest/gtest.h>

#include "engine/crossbar/mapping_scale.h"
#include "engine/evaluation/crossbar_eval.h"
#include "engine/evaluation/crossbar_render.h"
#include "engine/evaluation/network_bench.h"
#include "engine/training/train.h"
#include "kernels/common/error.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

bool mentions(const std::vector<std::string>& warnings, const std::string& text) {
  for (const std::string& w : warnings)
    if (w.find(text) != std::string::npos) return true;
  return false;
}

// One test: ctest runs each test in its own process and the training is the cost.
TEST(CrossbarEval, TrainedModelOnCrossbars) {
  const Dataset train_set = load_dataset("synthetic:2000", Split::Train);
  const Dataset test_set = load_dataset("synthetic:500", Split::Test);
  TrainConfig c;
  c.model = "vgg11";
  c.width = 0.125;
  c.data = "synthetic:2000";
  c.epochs = 3;
  c.batch = 64;
  c.out = (test::fresh_dir("xbar_eval") / "m.safetensors").string();
  auto backend = nn::make_cpu_backend();
  TrainHooks hooks;
  hooks.log = [](const std::string&) {};
  TrainResult trained = train(c, train_set, test_set, *backend, hooks);
  nn::Vgg& model = *trained.model;
  const Normalization norm = normalization_of(model.config());
  const EvalResult software = evaluate(model, test_set, norm);
  // Twice chance: the run differs by float rounding with the BLAS kernels (OPENBLAS_CORETYPE).
  ASSERT_GT(software.accuracy, 0.2) << "the tiny model did not learn; the checks below need a trained model";

  // Zero parasitic resistances, no variation: the solved W_eff is W to rounding, same predictions.
  CrossbarEvalOptions o;
  o.backend = Backend::Cpu;
  o.crossbar = crossbar_preset("ideal");
  o.crossbar.tile_rows = o.crossbar.tile_cols = 32;
  const CrossbarEvalResult zero = evaluate_on_crossbars(model, test_set, norm, o);
  EXPECT_EQ(zero.software.accuracy, software.accuracy);
  EXPECT_EQ(zero.ideal.predicted, software.predicted);
  EXPECT_EQ(zero.nonideal.predicted, software.predicted);
  EXPECT_EQ(zero.nonideal.accuracy, software.accuracy);
  EXPECT_TRUE(zero.report.warnings.empty());
  EXPECT_LT(to_json(zero.report)["nf"]["max"].get<double>(), 1e-9);

  // Wire resistance alone (source and sink shorted) at 32 x 32: accuracy falls as it grows.
  // Measured with a width-0.25 model: 68.0, 67.1, 62.9, 16.2 % for 1, 5, 10, 40 ohm.
  std::vector<double> accuracy;
  for (double r_wire : {1.0, 10.0, 40.0}) {
    CrossbarEvalOptions w = o;
    w.crossbar = crossbar_preset("default");
    w.crossbar.tile_rows = w.crossbar.tile_cols = 32;
    w.crossbar.res = TileResistances{0.0, 0.0, r_wire, r_wire};
    const CrossbarEvalResult r = evaluate_on_crossbars(model, test_set, norm, w, &software);
    EXPECT_EQ(r.ideal.accuracy, software.accuracy);
    accuracy.push_back(r.nonideal.accuracy);
  }
  EXPECT_LE(accuracy[1], accuracy[0] + 0.01);
  EXPECT_LE(accuracy[2], accuracy[1] + 0.01);
  EXPECT_LT(accuracy[2], software.accuracy - 0.05);
  EXPECT_LT(accuracy[2], accuracy[0]);

  // The second evaluation of the same point comes from the cache and agrees.
  CrossbarEvalOptions cached = o;
  cached.crossbar = crossbar_preset("default");
  cached.crossbar.tile_rows = cached.crossbar.tile_cols = 16;
  cached.cache_dir = test::fresh_dir("xbar_cache").string();
  const CrossbarEvalResult first = evaluate_on_crossbars(model, test_set, norm, cached, &software);
  const CrossbarEvalResult second = evaluate_on_crossbars(model, test_set, norm, cached, &software);
  EXPECT_FALSE(first.report.cache_hit);
  EXPECT_TRUE(second.report.cache_hit);
  EXPECT_EQ(second.nonideal.logits, first.nonideal.logits);
  EXPECT_EQ(to_json(second.report)["layers"], to_json(first.report)["layers"]);

  // A mapping scale below max |W| clips, and the report says so.
  CrossbarEvalOptions clip = o;
  clip.crossbar.scale = 0.05 * max_abs(mapped_layers(model)[1].matrix);
  const CrossbarEvalResult clipped = evaluate_on_crossbars(model, test_set, norm, clip, &software);
  EXPECT_GT(to_json(clipped.report)["clipped"].get<long long>(), 0);
  EXPECT_TRUE(mentions(clipped.report.warnings, "clipped")) << to_json(clipped.report)["warnings"].dump();

  const std::string csv = crossbar_predictions_csv(zero, test_set);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + static_cast<long>(test_set.size()));
}

TEST(CrossbarEval, UntrainedModelIsFlaggedAsChance) {
  auto backend = nn::make_cpu_backend();
  nn::VggConfig vc;
  vc.width = 0.0625;
  nn::Vgg model(vc, *backend);
  model.init(3);
  const Dataset test_set = load_dataset("synthetic:300", Split::Test);
  CrossbarEvalOptions o;
  o.backend = Backend::Cpu;
  o.crossbar.tile_rows = o.crossbar.tile_cols = 16;
  const CrossbarEvalResult r = evaluate_on_crossbars(model, test_set, Normalization{}, o);
  ASSERT_LE(r.software.accuracy, 0.15);
  EXPECT_TRUE(mentions(r.report.warnings, "chance level")) << to_json(r.report)["warnings"].dump();
  EXPECT_NE(crossbar_table(r.report).find("WARNING"), std::string::npos);
  EXPECT_EQ(to_json(r.report)["crossbars"].get<long long>(), r.report.crossbars);
}

// bench network's front door: every tile of the dense layout solved once, the
// per-vector count from the layout and the output sizes, the tile-level
// forward timed only when a converter is set.
TEST(CrossbarEval, NetworkBenchSolvesEveryTile) {
  auto backend = nn::make_cpu_backend();
  nn::VggConfig vc;
  vc.width = 0.0625;
  nn::Vgg model(vc, *backend);
  model.init(1);
  NetworkBenchSettings s;
  s.backend = Backend::Cpu;
  s.crossbar.tile_rows = s.crossbar.tile_cols = 16;
  s.images = 8;
  s.probe_tiles = 2;
  const NetworkBenchResult r = bench_network(model, s);
  const NetworkLayout layout = dense_network_layout(mapped_layers(model), 16, 16);
  EXPECT_EQ(r.crossbars, layout.crossbars());
  EXPECT_EQ(static_cast<long long>(r.stats.tiles), layout.crossbars());
  long long per_image = 0;  // 32x32 input; VGG11: pools after layers 0, 1, 3, 5, 7
  const long long pixels[] = {1024, 256, 64, 64, 16, 16, 4, 4, 1};
  for (std::size_t l = 0; l < layout.layers.size(); ++l)
    per_image += 2 * static_cast<long long>(layout.layers[l].tiles.size()) * pixels[l];
  EXPECT_EQ(r.per_vector_solves_per_image, per_image);
  EXPECT_GT(r.solve_seconds, 0.0);
  EXPECT_GT(r.inference_seconds, 0.0);
  EXPECT_GT(r.per_vector_solve_seconds, 0.0);
  EXPECT_EQ(r.tile_level_seconds, 0.0);
  s.crossbar.adc_bits = 8;
  EXPECT_GT(bench_network(model, s).tile_level_seconds, 0.0);
}

// One weight of 1e30 (a damaged file): the warning names the layer and its
// span, and the ideal-crossbar check does not call it a mapping bug.
TEST(CrossbarEval, DamagedWeightSpanIsNamed) {
  auto backend = nn::make_cpu_backend();
  nn::VggConfig vc;
  vc.width = 0.0625;
  nn::Vgg model(vc, *backend);
  model.init(3);
  SafetensorsFile sd = model.state_dict();
  sd.tensors.at("features.4.weight").data[7] = 1e30f;
  model.load_state_dict(sd, "damaged.safetensors");
  const Dataset test_set = load_dataset("synthetic:100", Split::Test);
  CrossbarEvalOptions o;
  o.backend = Backend::Cpu;
  o.crossbar.tile_rows = o.crossbar.tile_cols = 16;
  o.model_source = "damaged.safetensors";
  const CrossbarEvalResult r = evaluate_on_crossbars(model, test_set, Normalization{}, o);
  const std::string all = to_json(r.report)["warnings"].dump();
  EXPECT_TRUE(mentions(r.report.warnings, "damaged.safetensors: layer features.4's max |W| 1e+30")) << all;
  EXPECT_FALSE(mentions(r.report.warnings, "features.0's")) << all;
  EXPECT_FALSE(mentions(r.report.warnings, "please report")) << all;

  std::vector<float> m(100, 0.5f);
  EXPECT_EQ(weight_span(m), 1.0);
  m[3] = -4e6f;
  EXPECT_EQ(weight_span(m), 8e6);
  EXPECT_EQ(weight_span(std::vector<float>(9, 0.0f)), 1.0);
}

TEST(CrossbarEval, LayoutMustMatchTheModel) {
  auto backend = nn::make_cpu_backend();
  nn::VggConfig vc;
  vc.width = 0.0625;
  nn::Vgg model(vc, *backend);
  model.init(1);
  const Dataset test_set = load_dataset("synthetic:50", Split::Test);
  CrossbarEvalOptions o;
  o.crossbar.tile_rows = o.crossbar.tile_cols = 16;
  NetworkLayout bad = dense_network_layout(mapped_layers(model), 16, 16);
  bad.layers[0].inputs += 1;
  bad.layers[0] = dense_layout(bad.layers[0].layer, bad.layers[0].inputs, bad.layers[0].outputs, 16, 16);
  o.layout = bad;
  try {
    evaluate_on_crossbars(model, test_set, Normalization{}, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("features.0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sxb
