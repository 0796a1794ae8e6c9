// The eval path of the VGG (Vgg::infer: fused conv blocks, Winograd) against
// the layer-by-layer eval-mode forward, with and without a weight hook, on
// random weights and batch-norm statistics; its determinism across threads.

#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "models/vgg.h"
#include "tests/support/random_values.h"
#include "tests/support/random_vgg.h"

namespace sxb {
namespace {

using test_support::random_values;
using test_support::relative_error;

std::unique_ptr<nn::Vgg> random_model(nn::Backend& b, const std::string& name, double width) {
  return test_support::random_vgg(b, name, width, 11, 12, 0.5f);
}

nn::Tensor random_images(nn::Backend& b, int n, std::uint64_t seed) {
  nn::Tensor x = b.empty({n, 3, 32, 32});
  const std::vector<float> v = random_values(x.numel(), seed);
  b.upload(v.data(), x);
  return x;
}

TEST(VggInfer, LogitsMatchTheLayerByLayerForward) {
  auto b = nn::make_cpu_backend();
  for (const char* name : {"vgg11", "vgg16"}) {
    auto model = random_model(*b, name, 0.125);  // 8..64 channels: Winograd from 16 input channels on
    const nn::Tensor x = random_images(*b, 6, 21);
    const std::vector<float> want = nn::to_host(*b, model->forward(x, nn::ForwardContext{nn::Mode::Eval}));
    const std::vector<float> got = nn::to_host(*b, model->infer(x));
    EXPECT_LT(relative_error(got, want), 1e-5) << name;
  }
}

TEST(VggInfer, UsesTheWeightHook) {
  auto b = nn::make_cpu_backend();
  auto model = random_model(*b, "vgg11", 0.125);
  const nn::Tensor x = random_images(*b, 4, 22);
  const std::vector<float> plain = nn::to_host(*b, model->infer(x));
  // Negate the weights of one conv layer through the hook (as W_eff replaces them).
  const nn::Tensor& w = model->parameter("features.4.weight").value;
  std::vector<float> negated = nn::to_host(*b, w);
  for (float& v : negated) v = -v;
  const nn::Tensor replaced = nn::from_host(*b, w.shape(), negated);
  model->set_weight_hook([&](const std::string& layer, const nn::Tensor&) -> std::optional<nn::Tensor> {
    if (layer == "features.4") return replaced;
    return std::nullopt;
  });
  const std::vector<float> want = nn::to_host(*b, model->forward(x, nn::ForwardContext{nn::Mode::Eval}));
  const std::vector<float> got = nn::to_host(*b, model->infer(x));
  model->set_weight_hook(nullptr);
  EXPECT_LT(relative_error(got, want), 1e-5);
  EXPECT_GT(relative_error(got, plain), 1e-3);  // the hook changed something
}

TEST(VggInfer, IsBitIdenticalFor1To3Threads) {
  auto b = nn::make_cpu_backend();
  auto model = random_model(*b, "vgg11", 0.25);
  const nn::Tensor x = random_images(*b, 9, 23);
  std::vector<float> out[3];
  const int before = omp_get_max_threads();
  for (int t = 0; t < 3; ++t) {
    omp_set_num_threads(t + 1);
    out[t] = nn::to_host(*b, model->infer(x));
  }
  omp_set_num_threads(before);
  for (int t = 1; t < 3; ++t)
    EXPECT_EQ(std::memcmp(out[0].data(), out[t].data(), out[0].size() * sizeof(float)), 0) << t + 1 << " threads";
}

}  // namespace
}  // namespace sxb
