// Weight-constrained training (engine/crossbar/wct.h): the clamp holds after every
// step, s_ref is saved with the model, read back and kept across a resume,
// evaluate maps with it, the programmed conductances stay in
// [G_min, G_min + kappa (G_max - G_min)], and bad kappa or metadata is an Error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "engine/evaluation/crossbar_eval.h"
#include "engine/evaluation/crossbar_render.h"
#include "engine/pruning/pruning_run.h"
#include "engine/data/synthetic.h"
#include "engine/training/train.h"
#include "engine/crossbar/wct.h"
#include "kernels/common/error.h"
#include "tests/support/tiny_vgg.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

using test::kTinyWidth;
using test::quiet;
using test::ThreadCount;
using test::write_tiny_vgg;

std::map<std::string, double> max_abs_of_file(const std::string& path) {
  const SafetensorsFile f = read_safetensors(path);
  std::map<std::string, double> out;
  for (const auto& [name, t] : f.tensors) {
    const bool mapped = name == "classifier.weight" || (name.starts_with("features.") && name.ends_with(".weight") &&
                                                        t.shape.size() == 4);
    if (!mapped) continue;
    double m = 0.0;
    for (float w : t.data) m = std::max(m, std::abs(static_cast<double>(w)));
    out[name.substr(0, name.size() - std::string(".weight").size())] = m;
  }
  return out;
}

TrainConfig tiny_training(const std::string& init, const std::string& out, double kappa) {
  TrainConfig c = test::tiny_training(init, out);
  c.seed = 5;
  c.wct_kappa = kappa;
  return c;
}

// Throws an Error whose message contains every one of `parts`.
template <class F>
void expect_error(F f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no Error";
  } catch (const Error& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(Wct, KappaOutsideZeroToOneIsAnError) {
  for (double bad : {0.0, -0.5, 1.0000001, 2.0, std::nan("")})
    expect_error([&] { check_wct_kappa(bad, "--wct-kappa"); }, {"--wct-kappa", "(0, 1]"});
  EXPECT_NO_THROW(check_wct_kappa(1.0, "--wct-kappa"));
  EXPECT_NO_THROW(check_wct_kappa(1e-3, "--wct-kappa"));

  TrainConfig t = tiny_training("", testing::TempDir() + "/bad_kappa.safetensors", 1.5);
  expect_error([&] { t.check(); }, {"train.wct_kappa 1.5"});
  t.wct_kappa = 0.0;  // off
  EXPECT_NO_THROW(t.check());

  PruneRunConfig p;
  p.weights = "dense.safetensors";
  p.out = "pruned";
  p.spec.sparsity = 0.5;
  p.wct_kappa = -1.0;
  expect_error([&] { p.check(); }, {"prune.wct_kappa -1"});
  p.wct_kappa = 0.5;
  p.finetune_epochs = 0;
  expect_error([&] { p.check(); }, {"prune.wct_kappa", "prune.finetune_epochs"});
}

// Clamp after every step, s_ref = max|W| of --init, saved and read back.
TEST(Wct, EveryStepRespectsTheClampAndTheScalesAreSaved) {
  ThreadCount threads(2);
  const std::filesystem::path dir = test::fresh_dir("wct_train");
  const std::string init = (dir / "init.safetensors").string(), out = (dir / "wct.safetensors").string();
  write_tiny_vgg(init, 11);
  const std::map<std::string, double> s_ref = max_abs_of_file(init);
  const double kappa = 0.3;
  const Dataset train_set = make_synthetic(64, 21);

  TrainHooks hooks;
  hooks.log = quiet;
  int steps = 0;
  hooks.after_step = [&](nn::Vgg& m, const StepInfo&) {
    ++steps;
    std::size_t on_bound = 0;
    for (const std::string& layer : m.weight_layers()) {
      const double limit = kappa * s_ref.at(layer);
      for (float w : nn::to_host(m.backend(), m.parameter(layer + ".weight").value)) {
        ASSERT_LE(std::abs(static_cast<double>(w)), limit) << layer << " step " << steps;
        on_bound += std::abs(static_cast<double>(w)) > 0.999999 * limit;
      }
    }
    EXPECT_GT(on_bound, 0u) << "kappa 0.3 must bind: the initial weights fill [-s_ref, s_ref]";
  };
  auto backend = nn::make_cpu_backend();
  const TrainResult r = train(tiny_training(init, out, kappa), train_set, Dataset{}, *backend, hooks);
  EXPECT_EQ(steps, 4);
  ASSERT_TRUE(r.wct.has_value());
  EXPECT_EQ(r.wct->s_ref, s_ref);

  // Saved with the model and read back exactly.
  const SafetensorsFile saved = read_safetensors(out);
  const std::optional<WctScales> back = read_wct_metadata(saved, out);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->kappa, kappa);
  EXPECT_EQ(back->s_ref, s_ref);
  EXPECT_EQ(back->file, out);
  EXPECT_NE(back->origin.find(init), std::string::npos) << back->origin;
  const std::map<std::string, double> trained_max = max_abs_of_file(out);
  for (const auto& [layer, s] : s_ref) EXPECT_LE(trained_max.at(layer), kappa * s) << layer;

  // Trained further with WCT, the model keeps its s_ref (not max|W| of the clamped weights).
  const std::string again = (dir / "again.safetensors").string();
  const TrainResult r2 = train(tiny_training(out, again, 0.5), train_set, Dataset{}, *backend, {nullptr, nullptr,
                                                                                                  nullptr, quiet});
  ASSERT_TRUE(r2.wct.has_value());
  EXPECT_EQ(r2.wct->s_ref, s_ref);
  EXPECT_EQ(r2.wct->kappa, 0.5);
  // Trained further without WCT, the model carries no WCT metadata.
  const std::string plain = (dir / "plain.safetensors").string();
  train(tiny_training(out, plain, 0.0), train_set, Dataset{}, *backend, {nullptr, nullptr, nullptr, quiet});
  EXPECT_FALSE(read_wct_metadata(read_safetensors(plain), plain).has_value());
}

// From a random initialisation s_ref is max|W| of the initial weights.
TEST(Wct, RandomInitialisationGivesTheScale) {
  ThreadCount threads(2);
  const std::string out = (test::fresh_dir("wct_random") / "m.safetensors").string();
  auto backend = nn::make_cpu_backend();
  const TrainResult r = train(tiny_training("", out, 0.5), make_synthetic(16, 22), Dataset{}, *backend,
                              {nullptr, nullptr, nullptr, quiet});
  ASSERT_TRUE(r.wct.has_value());
  EXPECT_NE(r.wct->origin.find("random initialisation (seed 5)"), std::string::npos) << r.wct->origin;
  for (const auto& [layer, s] : r.wct->s_ref) {
    // PyTorch's default init: uniform in +-1/sqrt(fan_in), so max|W| is just below the bound.
    const nn::Tensor& w = r.model->parameter(layer + ".weight").value;
    const double fan_in = static_cast<double>(w.numel()) / w.dim(0);
    EXPECT_LE(s, 1.0 / std::sqrt(fan_in)) << layer;
    EXPECT_GT(s, 0.9 / std::sqrt(fan_in)) << layer;
  }
}

// An interrupted WCT run resumes with the s_ref of its checkpoint, bit for bit.
TEST(Wct, ResumeKeepsTheReferenceScales) {
  ThreadCount threads(2);
  const std::filesystem::path dir = test::fresh_dir("wct_resume");
  const std::string init = (dir / "init.safetensors").string();
  write_tiny_vgg(init, 12);
  const std::map<std::string, double> s_ref = max_abs_of_file(init);
  const Dataset train_set = make_synthetic(64, 23);
  auto backend = nn::make_cpu_backend();

  const std::string straight = (dir / "straight.safetensors").string();
  train(tiny_training(init, straight, 0.4), train_set, Dataset{}, *backend, {nullptr, nullptr, nullptr, quiet});

  const std::string resumed = (dir / "resumed.safetensors").string();
  TrainHooks stop_after_two;
  stop_after_two.log = quiet;
  int steps = 0;
  stop_after_two.after_step = [&](nn::Vgg&, const StepInfo&) { ++steps; };
  stop_after_two.stop_requested = [&] { return steps == 2; };
  const TrainResult first = train(tiny_training(init, resumed, 0.4), train_set, Dataset{}, *backend, stop_after_two);
  ASSERT_TRUE(first.interrupted);
  const std::optional<WctScales> in_ckpt =
      read_wct_metadata(read_safetensors(first.checkpoint), first.checkpoint);
  ASSERT_TRUE(in_ckpt.has_value());
  EXPECT_EQ(in_ckpt->s_ref, s_ref);

  // The --init file changes: a resume must not look at it again.
  std::filesystem::copy_file(first.checkpoint, dir / "saved.ckpt");
  write_tiny_vgg(init, 12, 3.0f);
  TrainConfig again = tiny_training(init, resumed, 0.4);  // removes the checkpoint: put it back
  std::filesystem::copy_file(dir / "saved.ckpt", checkpoint_path(resumed));
  again.resume = true;
  const TrainResult second = train(again, train_set, Dataset{}, *backend, {nullptr, nullptr, nullptr, quiet});
  ASSERT_FALSE(second.interrupted);
  ASSERT_TRUE(second.wct.has_value());
  EXPECT_EQ(second.wct->s_ref, s_ref);
  const SafetensorsFile a = read_safetensors(straight), b = read_safetensors(resumed);
  EXPECT_EQ(read_wct_metadata(b, resumed)->s_ref, s_ref);
  for (const auto& [name, t] : a.tensors) EXPECT_EQ(t.data, b.tensors.at(name).data) << name;

  // Resuming a WCT checkpoint without --wct-kappa, or with another kappa, is an Error.
  for (double kappa : {0.0, 0.5}) {
    TrainConfig other = tiny_training(init, resumed, kappa);
    std::filesystem::copy_file(dir / "saved.ckpt", checkpoint_path(resumed));
    other.resume = true;
    expect_error([&] { train(other, train_set, Dataset{}, *backend, {nullptr, nullptr, nullptr, quiet}); },
                 {checkpoint_path(resumed), "wct"});
  }
}

// A WCT model made directly: initial weights clamped with kappa, metadata written.
struct WctModel {
  std::string path;
  WctScales wct;
};
WctModel make_wct_model(const std::string& dir, double kappa) {
  auto backend = nn::make_cpu_backend();
  nn::Vgg model(nn::VggConfig{"vgg11", kTinyWidth, 10}, *backend);
  model.init(13);
  WctModel m{dir + "/wct_model.safetensors", start_wct(model, kappa, std::nullopt, "the test's initialisation")};
  apply_wct_clamp(model, m.wct);
  SafetensorsFile f = model.state_dict();
  write_wct_metadata(m.wct, f);
  write_safetensors(m.path, f);
  return m;
}

TEST(Wct, EvaluateMapsWithTheSavedScales) {
  ThreadCount threads(2);
  const double kappa = 0.4;
  const WctModel made = make_wct_model(test::fresh_dir("wct_eval").string(), kappa);
  const SafetensorsFile f = read_safetensors(made.path);
  auto backend = nn::make_cpu_backend();
  nn::Vgg model(nn::vgg_config_for_file(f, made.path, {"vgg11", std::nullopt, std::nullopt}, true), *backend);
  model.load_state_dict(f, made.path);

  CrossbarEvalOptions o;
  o.backend = Backend::Cpu;
  o.crossbar = crossbar_preset("default");
  o.crossbar.tile_rows = o.crossbar.tile_cols = 32;
  o.wct = read_wct_metadata(f, made.path);
  ASSERT_TRUE(o.wct.has_value());
  const Dataset test_set = make_synthetic(16, 24);
  const CrossbarEvalResult r = evaluate_on_crossbars(model, test_set, normalization_of(model.config()), o);
  const std::map<std::string, double> max_w = max_abs_of_file(made.path);
  const nlohmann::json report = to_json(r.report);
  ASSERT_EQ(report["layers"].size(), made.wct.s_ref.size());
  for (const auto& l : report["layers"]) {
    const std::string layer = l["layer"].get<std::string>();
    EXPECT_EQ(l["scale"].get<double>(), made.wct.s_ref.at(layer)) << layer;
    EXPECT_EQ(l["scale_source"], kScaleFromWct) << layer;
    EXPECT_LE(max_w.at(layer), kappa * l["scale"].get<double>()) << "max|W| is not the scale used";
    // kappa < 0.5: every device lies below (G_min + G_max) / 2.
    EXPECT_EQ(l["low_conductance_share"].get<double>(), 1.0) << layer;
  }
  EXPECT_EQ(report["clipped"].get<long long>(), 0);
  EXPECT_EQ(report["wct"]["kappa"].get<double>(), kappa);
  EXPECT_EQ(report["wct"]["file"].get<std::string>(), made.path);
  EXPECT_EQ(r.ideal.predicted, r.software.predicted) << "no clipping: the ideal crossbar is the software model";
  const std::string table = crossbar_table(r.report);
  EXPECT_NE(table.find("s_ref of weight-constrained training (kappa 0.4"), std::string::npos) << table;

  // Precedence: max|W| without WCT metadata; the configuration's scale over both.
  std::vector<MappedLayer> layers = mapped_layers(model);
  for (const auto& [layer, from] : assign_mapping_scales(layers, o.crossbar, std::nullopt)) EXPECT_EQ(from, "max_abs");
  for (const MappedLayer& m : layers) EXPECT_EQ(m.scale, max_w.at(m.layer));
  CrossbarConfig fixed = o.crossbar;
  fixed.scale = 0.25;
  for (const auto& [layer, from] : assign_mapping_scales(layers, fixed, o.wct)) EXPECT_EQ(from, "config");
  for (const MappedLayer& m : layers) EXPECT_EQ(m.scale, 0.25);
}

TEST(Wct, ConductancesStayBelowGminPlusKappaRange) {
  const double kappa = 0.3;
  const WctModel made = make_wct_model(test::fresh_dir("wct_g").string(), kappa);
  const SafetensorsFile f = read_safetensors(made.path);
  auto backend = nn::make_cpu_backend();
  nn::Vgg model(nn::vgg_config_for_file(f, made.path, {"vgg11", std::nullopt, std::nullopt}, true), *backend);
  model.load_state_dict(f, made.path);
  const CrossbarConfig xbar = crossbar_preset("default");
  const DeviceModel devices = xbar.devices();
  const double g_top = devices.g_min + kappa * (devices.g_max - devices.g_min);
  std::vector<MappedLayer> layers = mapped_layers(model);
  assign_mapping_scales(layers, xbar, read_wct_metadata(f, made.path));
  const int R = 16, C = 16;
  for (const MappedLayer& m : layers) {
    const LayerLayout layout = dense_layout(m.layer, m.inputs, m.outputs, R, C);
    double g_low = INFINITY, g_high = 0.0;
    for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
      std::vector<double> g_pos(R * C), g_neg(R * C);
      EXPECT_EQ(program_tile(m.matrix, m.outputs, m.layer, t, layout.tiles[t], R, C, m.scale, devices, g_pos.data(),
                             g_neg.data()),
                0);
      for (std::size_t i = 0; i < g_pos.size(); ++i) {
        g_low = std::min({g_low, g_pos[i], g_neg[i]});
        g_high = std::max({g_high, g_pos[i], g_neg[i]});
      }
    }
    EXPECT_GE(g_low, devices.g_min * (1 - 1e-12)) << m.layer;
    EXPECT_LE(g_high, g_top * (1 + 1e-12)) << m.layer;
    EXPECT_GT(g_high, g_top * (1 - 1e-6)) << m.layer << ": the clamped weights reach the top of the range";
  }
}

TEST(Wct, MalformedMetadataIsAnErrorNamingTheFileAndKey) {
  const WctModel made = make_wct_model(test::fresh_dir("wct_bad").string(), 0.5);
  const SafetensorsFile good = read_safetensors(made.path);
  const std::string path = made.path;
  auto with = [&](const std::string& key, const std::string& value) {
    SafetensorsFile f = good;
    if (value.empty())
      f.metadata.erase(key);
    else
      f.metadata[key] = value;
    return f;
  };
  expect_error([&] { read_wct_metadata(with("wct_kappa", "1.5"), path); }, {path, "wct_kappa", "1.5"});
  expect_error([&] { read_wct_metadata(with("wct_kappa", "half"), path); }, {path, "wct_kappa"});
  expect_error([&] { read_wct_metadata(with("wct_kappa", ""), path); }, {path, "wct_kappa", "wct_scales"});
  expect_error([&] { read_wct_metadata(with("wct_scales", "{\"features.0\": "), path); }, {path, "wct_scales"});
  expect_error([&] { read_wct_metadata(with("wct_scales", "[1, 2]"), path); }, {path, "wct_scales"});
  expect_error([&] { read_wct_metadata(with("wct_scales", "{\"features.0\": -0.1}"), path); },
               {path, "wct_scales", "features.0", "-0.1"});
  expect_error([&] { read_wct_metadata(with("wct_scales", "{\"features.0\": 0}"), path); },
               {path, "wct_scales", "features.0"});
  expect_error([&] { read_wct_metadata(with("wct_scales", "{\"features.0\": \"1\"}"), path); },
               {path, "wct_scales", "features.0"});

  // A missing or an extra layer: named when the scales meet the model.
  auto backend = nn::make_cpu_backend();
  nn::Vgg model(nn::VggConfig{"vgg11", kTinyWidth, 10}, *backend);
  std::vector<MappedLayer> layers = mapped_layers(model);
  const CrossbarConfig xbar = crossbar_preset("default");
  WctScales missing = *read_wct_metadata(good, path);
  missing.s_ref.erase("features.4");
  expect_error([&] { assign_mapping_scales(layers, xbar, missing); }, {path, "wct_scales", "features.4"});
  WctScales extra = *read_wct_metadata(good, path);
  extra.s_ref["features.99"] = 1.0;
  expect_error([&] { assign_mapping_scales(layers, xbar, extra); }, {path, "wct_scales", "features.99"});
  SafetensorsFile none = good;
  none.metadata.erase("wct_kappa");
  none.metadata.erase("wct_scales");
  EXPECT_FALSE(read_wct_metadata(none, path).has_value());
}

// prune --wct-kappa: fine-tuning is weight-constrained with s_ref of the hard-pruned model.
TEST(Wct, PruneFineTuningIsConstrained) {
  ThreadCount threads(2);
  const std::filesystem::path dir = test::fresh_dir("wct_prune");
  const std::string dense = (dir / "dense.safetensors").string();
  write_tiny_vgg(dense, 14);
  PruneRunConfig c;
  c.spec.method = PruneMethod::ColumnSegments;
  c.spec.tile_rows = c.spec.tile_cols = 8;
  c.spec.sparsity = 0.5;
  c.weights = dense;
  c.data = "synthetic";
  c.reg_epochs = 0;
  c.finetune_epochs = 1;
  c.batch = 16;
  c.seed = 4;
  c.wct_kappa = 0.5;
  c.out = (dir / "xcs").string();
  const Dataset train_set = make_synthetic(32, 25);
  auto backend = nn::make_cpu_backend();
  const PruneRunResult r = run_pruning(c, train_set, Dataset{}, *backend, {nullptr, nullptr, nullptr, quiet});
  ASSERT_FALSE(r.interrupted);
  const std::map<std::string, double> hard_max = max_abs_of_file(r.paths.hard);
  const std::optional<WctScales> wct = read_wct_metadata(read_safetensors(r.paths.model), r.paths.model);
  ASSERT_TRUE(wct.has_value());
  EXPECT_EQ(wct->kappa, 0.5);
  EXPECT_EQ(wct->s_ref, hard_max);
  for (const auto& [layer, m] : max_abs_of_file(r.paths.model)) EXPECT_LE(m, 0.5 * hard_max.at(layer)) << layer;
}

}  // namespace
}  // namespace sxb
