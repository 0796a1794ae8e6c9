// Non-ideality-aware fine-tuning (engine/training/nonideal_finetune.h): with
// an ideal circuit it is ordinary fine-tuning step for step; the solve
// schedule is the documented one; masks and the WCT clamp hold after every
// step; a resumed run is bit-identical; the model records its crossbar and
// evaluate warns on another one.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/data/synthetic.h"
#include "engine/evaluation/model_evaluation.h"
#include "engine/pruning/pruning.h"
#include "engine/training/nonideal_finetune.h"
#include "kernels/common/error.h"
#include "tests/support/tiny_vgg.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

using test::kTinyWidth;
using test::quiet;
using test::ThreadCount;
using test::write_tiny_vgg;

TEST(NonidealFinetune, IdealCircuitIsOrdinaryFinetuningStepForStep) {
  ThreadCount threads(2);
  const std::filesystem::path dir = test::fresh_dir("nonideal_ideal");
  const std::string init = (dir / "init.safetensors").string();
  write_tiny_vgg(init, 3);
  const Dataset train_set = make_synthetic(64, 31), test_set = make_synthetic(32, 32);
  auto backend = nn::make_cpu_backend();

  std::vector<double> plain_losses, tuned_losses;
  TrainHooks plain_hooks;
  plain_hooks.log = quiet;
  plain_hooks.after_step = [&](nn::Vgg&, const StepInfo& s) { plain_losses.push_back(s.loss); };
  const TrainResult plain = train(test::tiny_training(init, (dir / "plain.safetensors").string(), 2), train_set, test_set, *backend,
                                  plain_hooks);

  NonidealSettings s = test::tiny_nonideal(3);
  s.crossbar.res = TileResistances{0.0, 0.0, 0.0, 0.0};  // zero parasitics, ideal devices
  TrainHooks tuned_hooks = plain_hooks;
  tuned_hooks.after_step = [&](nn::Vgg&, const StepInfo& st) { tuned_losses.push_back(st.loss); };
  NonidealStats stats;
  const TrainResult tuned = train_nonideal(test::tiny_training(init, (dir / "tuned.safetensors").string(), 2), s, train_set,
                                           test_set, *backend, tuned_hooks, &stats);
  ASSERT_EQ(plain_losses.size(), 8u);
  ASSERT_EQ(tuned_losses.size(), plain_losses.size());
  for (std::size_t k = 0; k < plain_losses.size(); ++k)
    EXPECT_NEAR(tuned_losses[k], plain_losses[k], 1e-4 * std::max(1.0, plain_losses[k])) << "step " << k;
  const std::vector<float> a = test::parameters_of(*plain.model), b = test::parameters_of(*tuned.model);
  ASSERT_EQ(a.size(), b.size());
  double worst = 0.0, largest = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    largest = std::max(largest, std::abs(static_cast<double>(a[i])));
  }
  EXPECT_LT(worst, 1e-4 * largest);
  EXPECT_GT(stats.solves, 1);
  EXPECT_NEAR(stats.nonideal_test_accuracy, stats.software_test_accuracy, 1.0 / 32 + 1e-12);

  // With the default parasitics the forward is not the software one (the test above could not fail otherwise).
  std::vector<double> real_losses;
  TrainHooks real_hooks = plain_hooks;
  real_hooks.after_step = [&](nn::Vgg&, const StepInfo& st) { real_losses.push_back(st.loss); };
  train_nonideal(test::tiny_training(init, (dir / "real.safetensors").string(), 1), test::tiny_nonideal(3), train_set, test_set, *backend,
                 real_hooks);
  ASSERT_FALSE(real_losses.empty());
  EXPECT_GT(std::abs(real_losses[0] - plain_losses[0]), 1e-3 * plain_losses[0]);
}

// Solves: at the start, after every K steps, at every epoch end.
TEST(NonidealFinetune, ResolveScheduleIsHonoured) {
  ThreadCount threads(2);
  const std::filesystem::path dir = test::fresh_dir("nonideal_schedule");
  const std::string init = (dir / "init.safetensors").string();
  write_tiny_vgg(init, 4);
  const Dataset train_set = make_synthetic(80, 33);  // 5 steps of 16 per epoch
  auto backend = nn::make_cpu_backend();
  for (int k : {1, 3, 7}) {
    int logged = 0;
    TrainHooks hooks;
    hooks.log = [&](const std::string& line) { logged += line.find("non-ideal forward: solve") != std::string::npos; };
    NonidealStats stats;
    train_nonideal(test::tiny_training(init, (dir / fmt::format("k{}.safetensors", k)).string(), 2), test::tiny_nonideal(k), train_set,
                   Dataset{}, *backend, hooks, &stats);
    int expected = 1;
    for (int done = 1; done <= 10; ++done) expected += done % k == 0 || done % 5 == 0;
    EXPECT_EQ(stats.solves, expected) << "resolve_every " << k;
    EXPECT_EQ(logged, expected) << "resolve_every " << k;
    EXPECT_GT(stats.solve_seconds, 0.0);
  }
}

// A packed layout's masks (set by the caller), mask_zeros and the WCT clamp
// hold after every step, under a real (non-ideal) circuit.
TEST(NonidealFinetune, MasksAndClampHoldAfterEveryStep) {
  ThreadCount threads(2);
  const std::filesystem::path dir = test::fresh_dir("nonideal_masks");
  const std::string init = (dir / "init.safetensors").string();
  write_tiny_vgg(init, 5);
  {  // zero the first output channel of every conv: mask_zeros must hold it
    SafetensorsFile f = read_safetensors(init);
    for (auto& [name, t] : f.tensors)
      if (name.starts_with("features.") && name.ends_with(".weight") && t.shape.size() == 4)
        for (std::int64_t i = 0; i < t.numel() / t.shape[0]; ++i) t.data[i] = 0.0f;
    write_safetensors(init, f);
  }
  auto backend = nn::make_cpu_backend();
  nn::Vgg probe(nn::VggConfig{"vgg11", kTinyWidth, 10}, *backend);
  probe.load_state_dict(read_safetensors(init), init);
  NonidealSettings s = test::tiny_nonideal(2, 8);
  NetworkLayout layout = dense_network_layout(mapped_layers(probe), 8, 8);
  for (LayerLayout& l : layout.layers)  // drop every third tile: those weights are pruned
    if (l.tiles.size() > 2)
      for (std::size_t t = l.tiles.size(); t-- > 0;)
        if (t % 3 == 1) l.tiles.erase(l.tiles.begin() + static_cast<long>(t));
  layout.method = "xcs";
  s.layout = layout;
  s.mask_zeros = true;
  TrainConfig c = test::tiny_training(init, (dir / "tuned.safetensors").string(), 1);
  c.wct_kappa = 0.5;
  std::map<std::string, double> bound;
  for (const std::string& layer : probe.weight_layers()) {
    double m = 0.0;
    for (float w : nn::to_host(*backend, probe.parameter(layer + ".weight").value)) m = std::max(m, std::abs(double(w)));
    bound[layer] = 0.5 * m;
  }

  int steps = 0;
  long long held_zero = 0;
  TrainHooks hooks;
  hooks.log = quiet;
  hooks.on_model = [&](nn::Vgg& m) { EXPECT_GT(set_masks(m, layout), 0); };
  hooks.after_step = [&](nn::Vgg& m, const StepInfo&) {
    ++steps;
    for (const std::string& layer : m.weight_layers()) {
      nn::Parameter& p = m.parameter(layer + ".weight");
      ASSERT_FALSE(p.mask.empty()) << layer;
      const std::vector<float> w = nn::to_host(m.backend(), p.value);
      std::vector<std::uint8_t> keep(w.size());
      m.backend().download(p.mask, keep.data());
      for (std::size_t i = 0; i < w.size(); ++i) {
        if (!keep[i]) {
          ASSERT_EQ(w[i], 0.0f) << layer << " step " << steps;
          ++held_zero;
        }
        ASSERT_LE(std::abs(static_cast<double>(w[i])), bound.at(layer) * (1 + 1e-6)) << layer;
      }
      if (p.value.rank() == 4)  // mask_zeros: the zeroed first output channel
        for (int i = 0; i < static_cast<int>(w.size()) / p.value.dim(0); ++i) ASSERT_EQ(w[i], 0.0f) << layer;
    }
  };
  train_nonideal(c, s, make_synthetic(64, 34), Dataset{}, *backend, hooks);
  EXPECT_EQ(steps, 4);
  EXPECT_GT(held_zero, 0);
}

// Stopped mid-interval (D of an earlier solve in use) and resumed: the same
// weights, bit for bit, as an uninterrupted run; with device variation.
TEST(NonidealFinetune, ResumeIsBitIdentical) {
  ThreadCount threads(2);
  const std::filesystem::path dir = test::fresh_dir("nonideal_resume");
  const std::string init = (dir / "init.safetensors").string();
  write_tiny_vgg(init, 6);
  const Dataset train_set = make_synthetic(80, 35);
  auto backend = nn::make_cpu_backend();
  NonidealSettings s = test::tiny_nonideal(3);
  s.crossbar.variation_sigma = 0.05;
  s.variation_resample = true;

  const TrainResult straight =
      train_nonideal(test::tiny_training(init, (dir / "straight.safetensors").string(), 2), s, train_set, Dataset{}, *backend,
                     {nullptr, nullptr, nullptr, quiet});

  for (int stop_at : {4, 5, 7}) {  // mid-interval, at an epoch end, mid-interval of the next epoch
    const std::string out = (dir / fmt::format("r{}.safetensors", stop_at)).string();
    TrainConfig c = test::tiny_training(init, out, 2);
    NonidealStats stats;
    const TrainResult resumed = test::train_nonideal_interrupted(c, s, train_set, *backend, stop_at, &stats);
    c.resume = true;
    ASSERT_FALSE(resumed.interrupted);
    EXPECT_EQ(test::parameters_of(*resumed.model), test::parameters_of(*straight.model)) << "stopped after step " << stop_at;
    EXPECT_EQ(read_safetensors(out).tensors.at("features.0.weight").data,
              read_safetensors((dir / "straight.safetensors").string()).tensors.at("features.0.weight").data);

    // Other settings on resume are an Error naming the state file.
    NonidealSettings other = s;
    other.resolve_every = 4;
    try {
      train_nonideal(c, other, train_set, Dataset{}, *backend, {nullptr, nullptr, nullptr, quiet});
      ADD_FAILURE() << "no Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(".nonideal.ckpt.safetensors"), std::string::npos) << e.what();
    }
  }
}

TEST(NonidealFinetune, ModelRecordsItsCrossbarAndEvaluateWarnsOnAnother) {
  ThreadCount threads(2);
  const std::filesystem::path dir = test::fresh_dir("nonideal_record");
  const std::string init = (dir / "init.safetensors").string(), out = (dir / "tuned.safetensors").string();
  write_tiny_vgg(init, 8);
  const Dataset test_set = make_synthetic(32, 37);
  auto backend = nn::make_cpu_backend();
  NonidealSettings s = test::tiny_nonideal(5);
  train_nonideal(test::tiny_training(init, out, 1), s, make_synthetic(32, 36), test_set, *backend, {nullptr, nullptr, nullptr, quiet});
  const SafetensorsFile f = read_safetensors(out);
  ASSERT_TRUE(f.metadata.count("nonideal_crossbar"));
  EXPECT_EQ(nlohmann::json::parse(f.metadata.at("nonideal_crossbar")), s.crossbar.to_json());
  EXPECT_TRUE(f.metadata.count("nonideal_test_accuracy"));
  EXPECT_EQ(nlohmann::json::parse(f.metadata.at("nonideal_finetune"))["resolve_every"], 5);

  ModelEvalRequest request;
  request.weights = out;
  request.model = {"vgg11", std::nullopt, std::nullopt};
  request.options.crossbar = s.crossbar;
  request.options.backend = Backend::Cpu;
  const auto warns_of = [](const CrossbarEvalResult& r) {
    int n = 0;
    for (const std::string& w : r.report.warnings) n += w.find("tuned for") != std::string::npos;
    return n;
  };
  EXPECT_EQ(warns_of(evaluate_model_file(request, *backend, test_set)), 0);
  request.options.crossbar.tile_rows = request.options.crossbar.tile_cols = 32;
  EXPECT_EQ(warns_of(evaluate_model_file(request, *backend, test_set)), 1);
}

}  // namespace
}  // namespace sxb
