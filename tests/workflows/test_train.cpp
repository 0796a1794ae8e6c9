// Training engine: batches and schedules, a short end-to-end training on the
// synthetic set, bit-identical results for 1 and 2 threads and across a
// resume, hooks, and evaluation of the saved model.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numbers>
#include <set>
#include <string>

#include "engine/data/batches.h"
#include "engine/evaluation/evaluate.h"
#include "engine/data/synthetic.h"
#include "engine/training/train.h"
#include "models/io/safetensors.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

// A path for a trained model in the test's temporary folder, with no model
// or checkpoint left there by an earlier run.
std::string temp_path(const std::string& name) {
  const std::string path = testing::TempDir() + "/" + name;
  std::filesystem::remove(path);
  std::filesystem::remove(checkpoint_path(path));
  return path;
}

// Restores the OpenMP thread count at the end of a test.
using test::ThreadCount;

void quiet(const std::string&) {}

TEST(Batches, EpochOrderIsASeededPermutation) {
  const std::vector<int> a = epoch_order(1000, 5, 0), b = epoch_order(1000, 5, 1);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int k = 0; k < 1000; ++k) ASSERT_EQ(sorted[k], k);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, epoch_order(1000, 5, 0));
  EXPECT_NE(a, epoch_order(1000, 6, 0));
}

TEST(Batches, NormalisationAndAugmentation) {
  Dataset d = make_synthetic(64, 9);
  const Normalization norm = channel_statistics(d);
  std::vector<int> idx(64);
  for (int k = 0; k < 64; ++k) idx[k] = k;
  std::vector<float> plain(64 * kImageBytes), aug(64 * kImageBytes);
  std::vector<int> labels(64), labels_aug(64);
  make_batch(d, idx.data(), 64, norm, nullptr, 0, plain.data(), labels.data());
  EXPECT_EQ(labels, d.labels);
  // Normalised: each channel has mean ~0 and std ~1 over the set.
  for (int c = 0; c < 3; ++c) {
    double s = 0, s2 = 0;
    for (int k = 0; k < 64; ++k)
      for (int i = 0; i < 1024; ++i) {
        const double v = plain[k * kImageBytes + c * 1024 + i];
        s += v;
        s2 += v * v;
      }
    EXPECT_NEAR(s / (64 * 1024), 0.0, 1e-4);
    EXPECT_NEAR(s2 / (64 * 1024), 1.0, 1e-3);
  }
  const Augmentation a{3, 0};
  make_batch(d, idx.data(), 64, norm, &a, 0, aug.data(), labels_aug.data());
  EXPECT_EQ(labels_aug, d.labels);
  // Every augmented image is its original shifted by (dy, dx) in [-4, 4]^2 and maybe
  // flipped, with the padding value (0 - mean) / std entering from the border.
  int flipped = 0;
  for (int k = 0; k < 64; ++k) {
    bool found = false;
    for (int flip = 0; flip < 2 && !found; ++flip)
      for (int dy = -4; dy <= 4 && !found; ++dy)
        for (int dx = -4; dx <= 4 && !found; ++dx) {
          bool same = true;
          for (int c = 0; c < 3 && same; ++c)
            for (int y = 0; y < 32 && same; ++y)
              for (int x = 0; x < 32 && same; ++x) {
                const int sy = y + dy, sx = (flip ? 31 - x : x) + dx;
                const float want = (sy < 0 || sy > 31 || sx < 0 || sx > 31)
                                       ? -norm.mean[c] / norm.std[c]
                                       : plain[k * kImageBytes + c * 1024 + sy * 32 + sx];
                same = std::abs(aug[k * kImageBytes + c * 1024 + y * 32 + x] - want) < 1e-5f;
              }
          if (same) {
            found = true;
            flipped += flip;
          }
        }
    EXPECT_TRUE(found) << "image " << k;
  }
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
}

TEST(Train, LearningRateSchedules) {
  TrainConfig c;
  c.lr = 0.1;
  c.epochs = 4;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0, 10), 0.1);
  EXPECT_NEAR(learning_rate(c, 20, 10), 0.05, 1e-12);
  EXPECT_NEAR(learning_rate(c, 39, 10), 0.1 * 0.5 * (1 + std::cos(std::numbers::pi * 39 / 40)), 1e-12);
  c.schedule = "step";
  EXPECT_DOUBLE_EQ(learning_rate(c, 19, 10), 0.1);
  EXPECT_NEAR(learning_rate(c, 20, 10), 0.01, 1e-12);
  EXPECT_NEAR(learning_rate(c, 30, 10), 0.001, 1e-12);
  // Warm-up: 1 of 4 epochs rising linearly to lr, then the schedule over the other 3.
  c.warmup_epochs = 1;
  c.schedule = "cosine";
  EXPECT_NEAR(learning_rate(c, 0, 10), 0.01, 1e-12);
  EXPECT_NEAR(learning_rate(c, 4, 10), 0.05, 1e-12);
  EXPECT_DOUBLE_EQ(learning_rate(c, 9, 10), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 10, 10), 0.1);
  EXPECT_NEAR(learning_rate(c, 25, 10), 0.05, 1e-12);
  EXPECT_NEAR(learning_rate(c, 39, 10), 0.1 * 0.5 * (1 + std::cos(std::numbers::pi * 29 / 30)), 1e-12);
  c.schedule = "step";  // drops at epochs 1 and 2 of the 3 after the warm-up
  EXPECT_DOUBLE_EQ(learning_rate(c, 19, 10), 0.1);
  EXPECT_NEAR(learning_rate(c, 20, 10), 0.01, 1e-12);
  EXPECT_NEAR(learning_rate(c, 30, 10), 0.001, 1e-12);
  c.out = "x.safetensors";
  c.warmup_epochs = 4;
  EXPECT_THROW(c.check(), Error);  // no epoch left for the schedule
  c.warmup_epochs = 3;
  EXPECT_NO_THROW(c.check());
  EXPECT_EQ(checkpoint_path("out/m.safetensors"), "out/m.ckpt.safetensors");
  EXPECT_EQ(checkpoint_path("m"), "m.ckpt.safetensors");
}

TEST(Train, BadSettingsAreOneLineErrors) {
  TrainConfig c;
  c.out = "x.safetensors";
  c.schedule = "linear";
  try {
    c.check();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "train.schedule 'linear' is not one of cosine, step");
  }
  c.schedule = "cosine";
  c.model = "vgg13";
  EXPECT_THROW(c.check(), Error);
}

// A small configuration that trains in well under a second per epoch.
TrainConfig tiny_config(const std::string& out) {
  TrainConfig c;
  c.model = "vgg11";
  c.width = 0.0625;
  c.dropout = 0.25f;
  c.data = "synthetic:192";
  c.epochs = 2;
  c.batch = 32;
  c.lr = 0.02;
  c.seed = 17;
  c.out = out;
  return c;
}

SafetensorsFile run(const TrainConfig& c, const Dataset& train_set, const Dataset& test_set,
                    TrainHooks hooks = {}, TrainResult* result = nullptr) {
  auto backend = nn::make_cpu_backend();
  hooks.log = quiet;
  TrainResult r = train(c, train_set, test_set, *backend, hooks);
  EXPECT_FALSE(r.interrupted);
  if (result) *result = std::move(r);
  return read_safetensors(c.out);
}

void expect_identical_tensors(const SafetensorsFile& a, const SafetensorsFile& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    EXPECT_EQ(t.shape, b.tensors.at(name).shape) << name;
    EXPECT_TRUE(t.data == b.tensors.at(name).data) << name << " differs";  // bit-exact (no NaN here)
  }
}

TEST(Train, DivergedTrainingIsAnErrorNamingTheStepAndWritesNoModel) {
  const Dataset train_set = load_dataset("synthetic:192", Split::Train), test_set = make_synthetic(64, 99);
  // The largest learning rate the settings accept, on the tiny model.
  TrainConfig c = tiny_config(temp_path("diverged.safetensors"));
  c.lr = 100.0;
  c.weight_decay = 0.0;
  c.epochs = 3;
  auto backend = nn::make_cpu_backend();
  TrainHooks hooks;
  hooks.log = quiet;
  const std::string e = test::error_of([&] { train(c, train_set, test_set, *backend, hooks); });
  EXPECT_NE(e.find("training diverged"), std::string::npos) << e;
  EXPECT_NE(e.find("epoch "), std::string::npos) << e;
  EXPECT_NE(e.find("train.lr"), std::string::npos) << e;
  EXPECT_FALSE(std::filesystem::exists(c.out));

  // Weights that turn non-finite in a step: the next loss is not finite, and
  // the error names that step (epoch 1, step 4 of 6).
  TrainConfig d = tiny_config(temp_path("poisoned.safetensors"));
  hooks.after_step = [](nn::Vgg& net, const StepInfo& s) {
    if (s.epoch == 0 && s.step == 2) {
      nn::Parameter& w = net.parameter("classifier.weight");
      std::vector<float> host = nn::to_host(net.backend(), w.value);
      host[0] = std::numeric_limits<float>::quiet_NaN();
      net.backend().upload(host.data(), w.value);
    }
  };
  const std::string p = test::error_of([&] { train(d, train_set, test_set, *backend, hooks); });
  EXPECT_NE(p.find("the loss is nan at epoch 1/2 step 4/6"), std::string::npos) << p;
  EXPECT_FALSE(std::filesystem::exists(d.out));
  EXPECT_FALSE(std::filesystem::exists(checkpoint_path(d.out)));
}

TEST(Train, SameWeightsWithOneAndTwoThreads) {
  const Dataset train_set = load_dataset("synthetic:192", Split::Train), test_set = make_synthetic(64, 99);
  const std::string path1 = temp_path("threads1.safetensors"), path2 = temp_path("threads2.safetensors");
  SafetensorsFile one, two;
  {
    ThreadCount threads(1);
    one = run(tiny_config(path1), train_set, test_set);
  }
  {
    ThreadCount threads(2);
    two = run(tiny_config(path2), train_set, test_set);
  }
  expect_identical_tensors(one, two);
  expect_identical_tensors(read_safetensors(checkpoint_path(path1)),
                           read_safetensors(checkpoint_path(path2)));  // momentum too
  EXPECT_EQ(one.metadata.at("test_accuracy"), two.metadata.at("test_accuracy"));
}

TEST(Train, ResumeGivesTheSameWeightsAsAnUninterruptedRun) {
  ThreadCount threads(2);
  const Dataset train_set = load_dataset("synthetic:192", Split::Train), test_set = make_synthetic(64, 99);
  // 6 steps per epoch, 2 epochs. Interrupt at step 4 of epoch 1, then at step 2 of epoch 2.
  TrainResult straight;
  const SafetensorsFile reference = run(tiny_config(temp_path("straight.safetensors")), train_set, test_set, {},
                                        &straight);
  const TrainConfig c = tiny_config(temp_path("resumed.safetensors"));
  auto backend = nn::make_cpu_backend();
  int steps = 0;
  TrainHooks hooks;
  hooks.log = quiet;
  hooks.stop_requested = [&] { return ++steps == 4; };
  TrainResult first = train(c, train_set, test_set, *backend, hooks);
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.epoch, 0);
  EXPECT_EQ(first.step, 4);
  EXPECT_FALSE(std::filesystem::exists(c.out));

  TrainConfig again = c;
  again.resume = true;
  steps = 0;
  hooks.stop_requested = [&] { return ++steps == 4; };  // 2 more in epoch 1, 2 in epoch 2
  TrainResult second = train(again, train_set, test_set, *backend, hooks);
  EXPECT_TRUE(second.interrupted);
  EXPECT_EQ(second.epoch, 1);
  EXPECT_EQ(second.step, 2);

  hooks.stop_requested = nullptr;
  TrainResult third = train(again, train_set, test_set, *backend, hooks);
  EXPECT_FALSE(third.interrupted);
  expect_identical_tensors(reference, read_safetensors(c.out));
  ASSERT_EQ(third.epochs.size(), 1u);
  EXPECT_EQ(third.epochs[0].train_loss, straight.epochs[1].train_loss);  // the epoch's sums survive the stop
  EXPECT_EQ(third.test_accuracy, straight.test_accuracy);

  // Resuming with other settings is refused with the differing key.
  TrainConfig changed = again;
  changed.lr = 0.03;
  try {
    train(changed, train_set, test_set, *backend, hooks);
    FAIL() << "resume with another --lr was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lr = 0.02, this run has lr = 0.03"), std::string::npos) << e.what();
  }
}

TEST(Train, HooksRunAfterEveryStepAndBeforeTraining) {
  ThreadCount threads(2);
  const Dataset train_set = load_dataset("synthetic:64", Split::Train);
  TrainConfig c = tiny_config(temp_path("hooks.safetensors"));
  c.epochs = 1;
  std::vector<std::int64_t> steps;
  bool saw_model = false;
  TrainHooks hooks;
  hooks.on_model = [&](nn::Vgg& m) { saw_model = m.parameters().size() == 34; };
  // A weight clamp, as weight-constrained training uses.
  hooks.after_step = [&](nn::Vgg& m, const StepInfo& s) {
    steps.push_back(s.global_step);
    nn::Parameter& w = m.parameter("classifier.weight");
    std::vector<float> v = nn::to_host(m.backend(), w.value);
    for (float& x : v) x = std::clamp(x, -0.01f, 0.01f);
    m.backend().upload(v.data(), w.value);
  };
  const SafetensorsFile f = run(c, train_set, Dataset{}, hooks);
  EXPECT_TRUE(saw_model);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{0, 1}));
  for (float x : f.tensors.at("classifier.weight").data) EXPECT_LE(std::abs(x), 0.01f);
}

// --- End to end: learns the synthetic set; eval of the saved model agrees. -----------
// One test (ctest runs each test in its own process; the training is the cost).

TEST(TrainEndToEnd, LearnsTheSyntheticSetAndEvalOfTheSavedModelAgrees) {
  ThreadCount threads(2);
  const Dataset train_set = load_dataset("synthetic:3000", Split::Train);
  const Dataset test_set = load_dataset("synthetic:1000", Split::Test);
  const std::string path = temp_path("e2e.safetensors");
  TrainConfig c;
  c.model = "vgg11";
  c.width = 0.125;
  c.data = "synthetic:3000";
  c.epochs = 4;
  c.batch = 64;
  c.lr = 0.02;
  c.out = path;
  auto backend = nn::make_cpu_backend();
  TrainHooks hooks;
  hooks.log = quiet;
  const TrainResult trained = train(c, train_set, test_set, *backend, hooks);
  ASSERT_EQ(trained.epochs.size(), 4u);
  // Chance is 10 %. Measured: 49.1 % (OpenBLAS with its Prescott kernels, any
  // thread count), 47.3 % with OPENBLAS_CORETYPE=SkylakeX (other rounding,
  // another trajectory); seeds 2 and 3 of this recipe gave 47.8 % and
  // 36.8 % (on 3000 test images).
  EXPECT_GT(trained.test_accuracy, 0.30);
  RecordProperty("test_accuracy", std::to_string(trained.test_accuracy));
  EXPECT_LT(trained.epochs.back().train_loss, trained.epochs.front().train_loss);

  // Evaluating the saved file reproduces the training-time test result exactly.
  const SafetensorsFile f = read_safetensors(path);
  const nn::VggConfig config = nn::vgg_config_for_file(f, path, nn::VggRequest{"vgg11"}, true);
  EXPECT_EQ(config.width, 0.125);
  EXPECT_EQ(config.classes, 10);
  nn::Vgg model(config, *backend);
  model.load_state_dict(f, path);
  const EvalResult r = evaluate(model, test_set, normalization_of(config));
  EXPECT_EQ(r.accuracy, trained.test_accuracy);
  EXPECT_EQ(r.loss, trained.test_loss);
  EXPECT_EQ(r.images, 1000u);
  EXPECT_EQ(f.metadata.at("test_accuracy"), fmt::format("{:.17g}", r.accuracy));
  // The in-memory model returned by train() gives the same logits.
  const EvalResult same = evaluate(*trained.model, test_set, normalization_of(config));
  EXPECT_EQ(same.logits, r.logits);
  const std::string csv = predictions_csv(r, test_set);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "index,label,predicted,logit_0,logit_1,logit_2,logit_3,logit_4,logit_5,logit_6,logit_7,logit_8,logit_9");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1001);
}

}  // namespace
}  // namespace sxb
