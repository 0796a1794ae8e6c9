// VGG model: PyTorch state-dict names and shapes, load errors, metadata,
// save/load round trip, the weight hook, and a finite-difference check of the
// full forward + backward pass.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "models/io/safetensors.h"
#include "models/vgg.h"

namespace sxb::nn {
namespace {

using Shapes = std::map<std::string, std::vector<std::int64_t>>;

// The state dict of kuangliu/pytorch-cifar's VGG, derived here by hand from
// PyTorch's rules: `features` is an nn.Sequential in which each number c of
// the configuration list appends Conv2d(in, c, 3, padding=1) (index i),
// BatchNorm2d(c) (i+1) and ReLU (i+2), each 'M' appends MaxPool2d (one index),
// and an AvgPool2d(1, 1) closes it; Conv2d saves weight [c, in, 3, 3] and bias
// [c]; BatchNorm2d saves weight, bias, running_mean, running_var [c] and
// num_batches_tracked []; ReLU and the pools save nothing;
// classifier = Linear(512, classes) saves weight [classes, 512] and bias.
// The conv indices below are written out literally (as PyTorch prints them).
Shapes pytorch_state_dict(const std::vector<int>& conv_index, const std::vector<int>& channels, int classes) {
  Shapes s;
  std::int64_t in = 3;
  for (std::size_t k = 0; k < conv_index.size(); ++k) {
    const std::string conv = "features." + std::to_string(conv_index[k]);
    const std::string bn = "features." + std::to_string(conv_index[k] + 1);
    const std::int64_t c = channels[k];
    s[conv + ".weight"] = {c, in, 3, 3};
    s[conv + ".bias"] = {c};
    for (const char* name : {".weight", ".bias", ".running_mean", ".running_var"}) s[bn + name] = {c};
    s[bn + ".num_batches_tracked"] = {};
    in = c;
  }
  s["classifier.weight"] = {classes, in};
  s["classifier.bias"] = {classes};
  return s;
}

Shapes shapes_of(const SafetensorsFile& f) {
  Shapes s;
  for (const auto& [name, t] : f.tensors) s[name] = t.shape;
  return s;
}

std::int64_t trainable_count(const Vgg& model) {
  std::int64_t n = 0;
  for (const Parameter* p : model.parameters()) n += static_cast<std::int64_t>(p->value.numel());
  return n;
}

TEST(Vgg, Vgg11StateDictMatchesPyTorch) {
  auto backend = make_cpu_backend();
  Vgg model(VggConfig{"vgg11", 1.0, 10}, *backend);
  const SafetensorsFile f = model.state_dict();
  EXPECT_EQ(shapes_of(f), pytorch_state_dict({0, 4, 8, 11, 15, 18, 22, 25},
                                             {64, 128, 256, 256, 512, 512, 512, 512}, 10));
  EXPECT_EQ(f.tensors.at("features.1.num_batches_tracked").dtype, "I64");
  EXPECT_EQ(f.tensors.at("features.0.weight").dtype, "F32");
  EXPECT_EQ(trainable_count(model), 9231114);  // sum(p.numel() for p in VGG('VGG11').parameters())
  EXPECT_EQ(model.weight_layers().front(), "features.0");
  EXPECT_EQ(model.weight_layers().back(), "classifier");
  EXPECT_EQ(model.weight_layers().size(), 9u);
}

TEST(Vgg, Vgg16StateDictMatchesPyTorch) {
  auto backend = make_cpu_backend();
  Vgg model(VggConfig{"vgg16", 1.0, 100}, *backend);
  EXPECT_EQ(shapes_of(model.state_dict()),
            pytorch_state_dict({0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40},
                               {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512}, 100));
  EXPECT_EQ(trainable_count(model), 14728266 - 5130 + 51300);  // VGG16 has 14728266 with 10 classes
}

TEST(Vgg, WidthMultiplierRoundsAndKeepsAtLeastOneChannel) {
  EXPECT_EQ(scaled_channels(64, 0.25), 16);
  EXPECT_EQ(scaled_channels(64, 0.3), 19);  // 19.2
  EXPECT_EQ(scaled_channels(128, 0.3), 38);  // 38.4
  EXPECT_EQ(scaled_channels(64, 0.001), 1);
  auto backend = make_cpu_backend();
  Vgg model(VggConfig{"vgg11", 0.3, 7}, *backend);
  const SafetensorsFile f = model.state_dict();
  EXPECT_EQ(f.tensors.at("features.4.weight").shape, (std::vector<std::int64_t>{38, 19, 3, 3}));
  EXPECT_EQ(f.tensors.at("classifier.weight").shape, (std::vector<std::int64_t>{7, 154}));  // round(153.6)
}

std::string load_error(Vgg& model, const SafetensorsFile& f) {
  try {
    model.load_state_dict(f, "weights.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Vgg, LoadRejectsMissingUnexpectedAndMisshapenTensors) {
  auto backend = make_cpu_backend();
  Vgg model(VggConfig{"vgg11", 0.125, 10}, *backend);
  model.init(3);
  const SafetensorsFile good = model.state_dict();
  EXPECT_EQ(load_error(model, good), "");

  SafetensorsFile missing = good;
  missing.tensors.erase("features.12.running_var");
  std::string e = load_error(model, missing);
  EXPECT_NE(e.find("missing tensor 'features.12.running_var'"), std::string::npos) << e;
  EXPECT_NE(e.find("weights.safetensors"), std::string::npos) << e;

  SafetensorsFile extra = good;
  extra.tensors["features.29.weight"] = {{1}, {0.0f}, "F32"};
  e = load_error(model, extra);
  EXPECT_NE(e.find("unexpected tensor 'features.29.weight'"), std::string::npos) << e;

  SafetensorsFile shape = good;
  shape.tensors["features.4.weight"].shape = {16, 8, 9};
  e = load_error(model, shape);
  EXPECT_NE(e.find("'features.4.weight' has shape [16, 8, 9]"), std::string::npos) << e;
  EXPECT_NE(e.find("[16, 8, 3, 3]"), std::string::npos) << e;
}

TEST(Vgg, LoadRejectsNonFiniteWeightsAndNegativeVariances) {
  auto backend = make_cpu_backend();
  Vgg model(VggConfig{"vgg11", 0.125, 10}, *backend);
  model.init(3);
  const SafetensorsFile good = model.state_dict();
  const std::vector<float> before = to_host(*backend, model.parameter("features.4.weight").value);
  const auto broken = [&](const std::string& tensor, std::size_t index, float value) {
    SafetensorsFile f = good;
    f.tensors.at(tensor).data.at(index) = value;
    return load_error(model, f);
  };
  std::string e = broken("features.4.weight", 17, std::nanf(""));
  EXPECT_NE(e.find("weights.safetensors: tensor 'features.4.weight' holds nan at flat index 17"), std::string::npos)
      << e;
  e = broken("classifier.bias", 3, -INFINITY);
  EXPECT_NE(e.find("tensor 'classifier.bias' holds -inf at flat index 3"), std::string::npos) << e;
  e = broken("features.1.running_mean", 0, INFINITY);
  EXPECT_NE(e.find("tensor 'features.1.running_mean' holds inf at flat index 0"), std::string::npos) << e;
  e = broken("features.5.running_var", 2, -0.5f);
  EXPECT_NE(e.find("tensor 'features.5.running_var' holds the negative variance -0.5 for channel 2"),
            std::string::npos)
      << e;
  e = broken("features.5.running_var", 1, std::nanf(""));
  EXPECT_NE(e.find("'features.5.running_var' holds nan at flat index 1"), std::string::npos) << e;
  // A zero variance (a channel pruned to zero) loads; nothing was changed by the failed loads.
  EXPECT_EQ(broken("features.5.running_var", 2, 0.0f), "");
  EXPECT_EQ(to_host(*backend, model.parameter("features.4.weight").value), before);
}

TEST(Vgg, SaveLoadRoundTripGivesIdenticalLogits) {
  auto backend = make_cpu_backend();
  VggConfig c{"vgg11", 0.125, 10};
  c.input_mean = {0.5f, 0.25f, 0.125f};
  c.input_std = {0.3f, 0.2f, 0.1f};
  Vgg a(c, *backend);
  a.init(11);
  // Make the running statistics non-trivial.
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> x(4 * 3 * 32 * 32);
  for (float& v : x) v = normal(rng);
  const Tensor input = from_host(*backend, {4, 3, 32, 32}, x);
  a.forward(input, {Mode::Train});
  const std::vector<float> logits_a = to_host(*backend, a.forward(input, {Mode::Eval}));

  const std::string path = testing::TempDir() + "/vgg_roundtrip.safetensors";
  write_safetensors(path, a.state_dict());
  const SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.tensors.at("features.1.num_batches_tracked").data[0], 1.0f);
  const VggConfig loaded = vgg_config_for_file(f, path, VggRequest{"vgg11"}, true);
  EXPECT_EQ(loaded.width, 0.125);
  EXPECT_EQ(loaded.classes, 10);
  EXPECT_EQ(loaded.input_mean, c.input_mean);
  EXPECT_EQ(loaded.input_std, c.input_std);
  Vgg b(loaded, *backend);
  b.load_state_dict(f, path);
  EXPECT_EQ(to_host(*backend, b.forward(input, {Mode::Eval})), logits_a);
}

std::string config_error(const SafetensorsFile& f, const VggRequest& r) {
  try {
    vgg_config_for_file(f, "m.safetensors", r, true);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Vgg, MetadataThatDisagreesWithTheRequestIsAnError) {
  auto backend = make_cpu_backend();
  Vgg model(VggConfig{"vgg11", 0.25, 10}, *backend);
  const SafetensorsFile f = model.state_dict();
  EXPECT_EQ(config_error(f, {"vgg11", 0.25, 10}), "");
  EXPECT_NE(config_error(f, {"vgg16"}).find("holds a vgg11 model, but model is vgg16"),
            std::string::npos);
  EXPECT_NE(config_error(f, {"vgg11", 0.5}).find("trained with width 0.25, but width is 0.5"),
            std::string::npos);
  EXPECT_NE(config_error(f, {"vgg11", std::nullopt, 100}).find("has 10 classes"), std::string::npos);
  SafetensorsFile no_norm = f;
  no_norm.metadata.erase("input_mean");
  no_norm.metadata.erase("input_std");
  EXPECT_NE(config_error(no_norm, {"vgg11"}).find("no input_mean/input_std"), std::string::npos);
  // A PyTorch export (no metadata): classes from the classifier, width as asked.
  SafetensorsFile bare = f;
  bare.metadata.clear();
  const VggConfig c = vgg_config_for_file(bare, "m.safetensors", {"vgg11", 0.25}, false);
  EXPECT_EQ(c.classes, 10);
  EXPECT_EQ(c.width, 0.25);
}

TEST(Vgg, WeightHookReplacesTheWeightInForward) {
  auto backend = make_cpu_backend();
  Vgg model(VggConfig{"vgg11", 0.125, 5}, *backend);
  model.init(2);
  std::vector<float> x(2 * 3 * 32 * 32, 0.5f);
  const Tensor input = from_host(*backend, {2, 3, 32, 32}, x);
  std::vector<std::string> seen;
  const Tensor zero = from_host(*backend, {5, 64}, std::vector<float>(5 * 64, 0.0f));
  model.set_weight_hook([&](const std::string& layer, const Tensor&) -> std::optional<Tensor> {
    seen.push_back(layer);
    if (layer == "classifier") return zero;
    return std::nullopt;
  });
  const std::vector<float> logits = to_host(*backend, model.forward(input, {Mode::Eval}));
  EXPECT_EQ(seen, model.weight_layers());
  const std::vector<float> bias = to_host(*backend, model.parameter("classifier.bias").value);
  for (int n = 0; n < 2; ++n)
    for (int k = 0; k < 5; ++k) EXPECT_EQ(logits[n * 5 + k], bias[k]);
  model.set_weight_hook([&](const std::string&, const Tensor&) -> std::optional<Tensor> { return zero; });
  EXPECT_THROW(model.forward(input, {Mode::Eval}), Error);  // features.0 weight is not [5, 64]
}

// Mean cross-entropy of the model in train mode (batch statistics).
double train_loss(Vgg& model, Backend& b, const Tensor& x, const Tensor& labels, const Tensor* dlogits) {
  const Tensor& logits = model.forward(x, {Mode::Train, 7, 3});
  return b.softmax_cross_entropy(logits, labels, dlogits).loss;
}

// The analytic gradient of the loss along a random direction of one
// parameter, against central differences of the loss (all in fp32 forward).
TEST(Vgg, ForwardBackwardMatchesFiniteDifferences) {
  auto backend = make_cpu_backend();
  Backend& b = *backend;
  VggConfig c{"vgg11", 0.0625, 4};
  c.dropout = 0.25f;  // exercises the dropout path with a fixed mask
  Vgg model(c, b);
  model.init(21);
  model.prepare_training();
  const int N = 4;
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<std::size_t>(N) * 3 * 32 * 32);
  for (float& v : x) v = normal(rng);
  const Tensor input = from_host(b, {N, 3, 32, 32}, x);
  const std::vector<std::int32_t> label_values = {0, 1, 2, 3};
  Tensor labels = b.empty({N}, DType::I32);
  b.upload(label_values.data(), labels);
  Tensor dlogits = b.empty({N, 4});
  train_loss(model, b, input, labels, &dlogits);
  model.backward(dlogits);

  const char* names[] = {"features.0.weight", "features.1.weight", "features.4.bias", "features.12.weight",
                         "features.16.bias", "features.25.weight", "classifier.weight", "classifier.bias"};
  for (const char* name : names) {
    Parameter& p = model.parameter(name);
    const std::vector<float> grad = to_host(b, p.grad), value = to_host(b, p.value);
    std::vector<float> direction(value.size());
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    double analytic = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < value.size(); ++i) {
      direction[i] = u(rng);
      analytic += static_cast<double>(grad[i]) * direction[i];
      norm += static_cast<double>(direction[i]) * direction[i];
    }
    auto loss_at = [&](double t) {
      std::vector<float> moved(value.size());
      for (std::size_t i = 0; i < value.size(); ++i) moved[i] = static_cast<float>(value[i] + t * direction[i]);
      b.upload(moved.data(), p.value);
      return train_loss(model, b, input, labels, nullptr);
    };
    // The loss of this tiny network (batch 4, 4 to 32 channels, batch-norm
    // on batch statistics) is strongly curved in its first layers, while its
    // fp32 rounding noise (~1e-7) swamps small steps: central differences
    // over a ladder of steps, and the gradient must match at one of them
    // within 1 % plus the rounding noise of that step.
    const double rms = std::sqrt(norm / value.size());
    double best = 1e30, best_numeric = 0.0;
    bool matched = false;
    for (double step : {1e-3, 3e-4, 1e-4, 3e-5, 1e-5}) {
      const double t = step / rms;
      const double numeric = (loss_at(t) - loss_at(-t)) / (2 * t);
      const double error = std::abs(numeric - analytic), tolerance = 0.01 * std::abs(analytic) + 2e-7 / t;
      if (error < best) best = error, best_numeric = numeric;
      matched = matched || error <= tolerance;
    }
    b.upload(value.data(), p.value);
    EXPECT_TRUE(matched) << name << ": analytic " << analytic << ", closest central difference " << best_numeric;
  }
}

}  // namespace
}  // namespace sxb::nn
