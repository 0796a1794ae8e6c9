// A VGG with random weights and random batch-norm affine parameters and
// running statistics (so that eval-mode batch-norm and its re-estimation do
// something), for the network engine's tests.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "models/vgg.h"

namespace sxb::test_support {

// Weights from model->init(init_seed); gamma in [0.5, 1.5), beta in
// [-0.2, 0.2), running means in [-mean_range, mean_range), variances in
// [0.5, 2), drawn in layer order from mt19937_64(stats_seed).
inline std::unique_ptr<nn::Vgg> random_vgg(nn::Backend& b, const std::string& name, double width,
                                           std::uint64_t init_seed, std::uint64_t stats_seed, float mean_range) {
  nn::VggConfig c;
  c.model = name;
  c.width = width;
  auto model = std::make_unique<nn::Vgg>(c, b);
  model->init(init_seed);
  std::mt19937_64 rng(stats_seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  auto randomize = [&](const nn::Tensor& t, float lo, float hi) {
    std::vector<float> v(t.numel());
    for (float& x : v) x = lo + (hi - lo) * u(rng);
    b.upload(v.data(), t);
  };
  for (const std::string& layer : model->batch_norm_layers()) {
    randomize(model->parameter(layer + ".weight").value, 0.5f, 1.5f);
    randomize(model->parameter(layer + ".bias").value, -0.2f, 0.2f);
    randomize(model->buffer(layer + ".running_mean").value, -mean_range, mean_range);
    randomize(model->buffer(layer + ".running_var").value, 0.5f, 2.0f);
  }
  return model;
}

}  // namespace sxb::test_support
