// Batch-norm re-estimation: with the model's own weights it reproduces the
// training-mode batch statistics of the N images layer by layer (and that
// forward's predictions); a gain g on a conv layer's weights scales the next
// batch-norm's mean by g and variance by g^2; the result does not depend on
// the internal batch size or the thread count; restore is bit-identical.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "engine/data/synthetic.h"
#include "engine/evaluation/bn_reestimation.h"
#include "kernels/common/error.h"
#include "tests/support/random_vgg.h"

namespace sxb {
namespace {

constexpr std::uint64_t kSeed = 7;

// A VGG11 of width 0.25 with random weights and random batch-norm affine
// parameters and running statistics (so that re-estimation changes them).
std::unique_ptr<nn::Vgg> random_model(nn::Backend& b) {
  return test_support::random_vgg(b, "vgg11", 0.25, kSeed, kSeed, 1.0f);
}

// The n images re-estimation uses: image floor(k * size / n) for k < n, in order.
Dataset first_images(const Dataset& d, std::size_t n) {
  Dataset s = d;
  s.images.resize(n * kImageBytes);
  s.labels.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = k * d.size() / n;
    std::copy(d.image(i), d.image(i) + kImageBytes, s.images.begin() + static_cast<std::ptrdiff_t>(k * kImageBytes));
    s.labels[k] = d.labels[i];
  }
  return s;
}

// Max over layers and channels of the difference in mean (relative to the
// standard deviation) and in variance (relative to the variance).
double max_difference(const BatchNormState& a, const BatchNormState& b) {
  double worst = 0.0;
  for (std::size_t l = 0; l < a.layers.size(); ++l)
    for (std::size_t c = 0; c < a.mean[l].size(); ++c) {
      const double sd = std::sqrt(static_cast<double>(b.var[l][c])) + 1e-12;
      worst = std::max(worst, std::fabs(static_cast<double>(a.mean[l][c]) - b.mean[l][c]) / sd);
      worst = std::max(worst, std::fabs(static_cast<double>(a.var[l][c]) - b.var[l][c]) / (sd * sd));
    }
  return worst;
}

bool bit_identical(const BatchNormState& a, const BatchNormState& b) {
  if (a.layers != b.layers || a.batches_tracked != b.batches_tracked) return false;
  for (std::size_t l = 0; l < a.layers.size(); ++l)
    if (a.mean[l].size() != b.mean[l].size() || a.var[l].size() != b.var[l].size() ||
        std::memcmp(a.mean[l].data(), b.mean[l].data(), a.mean[l].size() * sizeof(float)) != 0 ||
        std::memcmp(a.var[l].data(), b.var[l].data(), a.var[l].size() * sizeof(float)) != 0)
      return false;
  return true;
}

class BnReestimationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend = nn::make_cpu_backend();
    model = random_model(*backend);
    train = make_synthetic(60, kSeed);
    norm = channel_statistics(train);
  }
  std::unique_ptr<nn::Backend> backend;
  std::unique_ptr<nn::Vgg> model;
  Dataset train;
  Normalization norm;
};

// The reference: a train-mode forward of the N images as one batch (every
// batch-norm normalises with the batch statistics of its input), with each
// layer's input statistics recomputed here in plain double (two passes).
TEST_F(BnReestimationTest, IdealEqualsTrainModeBatchStatistics) {
  const std::size_t n = 40;  // fewer than the split: the rest must not count
  nn::Vgg reference(model->config(), *backend);
  reference.load_state_dict(model->state_dict(), "copy");

  const BnReestimation r = reestimate_batchnorm(*model, train, norm, n, 16);
  EXPECT_EQ(r.images, n);
  ASSERT_EQ(r.layers.size(), 8u);
  const BatchNormState after = save_batchnorm(*model);

  const Dataset subset = first_images(train, n);
  std::vector<int> indices(n), labels(n);
  std::iota(indices.begin(), indices.end(), 0);
  std::vector<float> images(n * kImageBytes);
  make_batch(subset, indices.data(), static_cast<int>(n), norm, nullptr, 0, images.data(), labels.data());
  const nn::Tensor x = nn::from_host(*backend, {static_cast<int>(n), 3, 32, 32}, images);
  const nn::ForwardContext train_mode{nn::Mode::Train};
  BatchNormState expected = after;
  for (std::size_t l = 0; l < after.layers.size(); ++l) {
    const nn::Tensor& in = reference.forward_to(after.layers[l], x, train_mode);
    const std::vector<float> h = nn::to_host(*backend, in);
    const int channels = in.dim(1), pixels = in.dim(2) * in.dim(3);
    for (int c = 0; c < channels; ++c) {
      double sum = 0.0, squares = 0.0;
      for (std::size_t k = 0; k < n; ++k)
        for (int i = 0; i < pixels; ++i) sum += h[(k * channels + c) * pixels + i];
      const double mean = sum / (static_cast<double>(n) * pixels);
      for (std::size_t k = 0; k < n; ++k)
        for (int i = 0; i < pixels; ++i) squares += std::pow(h[(k * channels + c) * pixels + i] - mean, 2);
      expected.mean[l][c] = static_cast<float>(mean);
      expected.var[l][c] = static_cast<float>(squares / (static_cast<double>(n) * pixels));
    }
    EXPECT_GT(std::fabs(r.layers[l].abs_mean_after - r.layers[l].abs_mean_before), 1e-3) << after.layers[l];
  }
  EXPECT_LT(max_difference(after, expected), 1e-4);

  // Eval with the re-estimated statistics predicts what the train-mode forward predicts.
  const std::vector<float> logits = nn::to_host(*backend, reference.forward(x, train_mode));
  const EvalResult eval = evaluate(*model, subset, norm);
  std::size_t correct = 0;
  double worst = 0.0, scale = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    const float* z = logits.data() + k * 10;
    correct += static_cast<int>(std::max_element(z, z + 10) - z) == subset.labels[k];
    for (int c = 0; c < 10; ++c) {
      worst = std::max(worst, static_cast<double>(std::fabs(z[c] - eval.logits[k * 10 + c])));
      scale = std::max(scale, static_cast<double>(std::fabs(z[c])));
    }
  }
  EXPECT_EQ(eval.correct, correct);
  EXPECT_LT(worst, 1e-4 * scale);
}

// Zero conv bias: the next batch-norm's input is g * (W x), so its mean
// scales by g and its variance by g^2; the layers before are untouched.
TEST_F(BnReestimationTest, WeightGainScalesFollowingStatistics) {
  const std::string conv = "features.4", bn = "features.5";
  const double g = 0.8;
  backend->fill(model->parameter(conv + ".bias").value, 0.0f);
  const BnReestimation plain = reestimate_batchnorm(*model, train, norm, 50);
  const BatchNormState a = save_batchnorm(*model);
  restore_batchnorm(*model, plain.before);

  std::vector<float> w = nn::to_host(*backend, model->parameter(conv + ".weight").value);
  for (float& v : w) v = static_cast<float>(v * g);
  const nn::Tensor scaled = nn::from_host(*backend, model->parameter(conv + ".weight").value.shape(), w);
  model->set_weight_hook([&](const std::string& layer, const nn::Tensor&) -> std::optional<nn::Tensor> {
    if (layer == conv) return scaled;
    return std::nullopt;
  });
  reestimate_batchnorm(*model, train, norm, 50);
  model->set_weight_hook(nullptr);
  const BatchNormState b = save_batchnorm(*model);

  ASSERT_EQ(a.layers[1], bn);
  EXPECT_EQ(std::memcmp(a.mean[0].data(), b.mean[0].data(), a.mean[0].size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(a.var[0].data(), b.var[0].data(), a.var[0].size() * sizeof(float)), 0);
  for (std::size_t c = 0; c < a.mean[1].size(); ++c) {
    const double sd = std::sqrt(static_cast<double>(a.var[1][c]));
    EXPECT_NEAR(b.mean[1][c], g * a.mean[1][c], 1e-5 * g * sd) << c;
    EXPECT_NEAR(b.var[1][c], g * g * a.var[1][c], 1e-5 * g * g * a.var[1][c]) << c;
  }
}

// Guarantee: bit-identical for any thread count; across internal batch sizes
// equal to the float rounding of the forward (checked at 1e-5 relative).
TEST_F(BnReestimationTest, IndependentOfBatchSizeAndThreads) {
  const std::size_t n = 37;
  const int threads = omp_get_max_threads();
  std::vector<BatchNormState> by_batch;
  for (int batch : {256, 16, 5}) {
    const BnReestimation r = reestimate_batchnorm(*model, train, norm, n, batch);
    by_batch.push_back(save_batchnorm(*model));
    restore_batchnorm(*model, r.before);
  }
  EXPECT_LT(max_difference(by_batch[1], by_batch[0]), 1e-5);
  EXPECT_LT(max_difference(by_batch[2], by_batch[0]), 1e-5);

  omp_set_num_threads(1);
  const BnReestimation one = reestimate_batchnorm(*model, train, norm, n, 16);
  const BatchNormState serial = save_batchnorm(*model);
  restore_batchnorm(*model, one.before);
  omp_set_num_threads(std::max(2, threads));
  reestimate_batchnorm(*model, train, norm, n, 16);
  omp_set_num_threads(threads);
  EXPECT_TRUE(bit_identical(serial, save_batchnorm(*model)));
  EXPECT_TRUE(bit_identical(serial, by_batch[1]));
}

// forward_to stops before the named layer: features.1's input is the first conv's output.
TEST_F(BnReestimationTest, ForwardToGivesTheLayerInput) {
  std::vector<float> images(2 * kImageBytes);
  std::vector<int> indices = {0, 1}, labels(2);
  make_batch(train, indices.data(), 2, norm, nullptr, 0, images.data(), labels.data());
  const nn::Tensor x = nn::from_host(*backend, {2, 3, 32, 32}, images);
  const nn::Conv2dShape s{2, 3, 32, 32, 16, 3, 3, 1, 1};
  nn::Tensor y = backend->empty({2, 16, 32, 32});
  backend->conv2d_forward(s, x, model->parameter("features.0.weight").value, &model->parameter("features.0.bias").value,
                          y);
  EXPECT_EQ(nn::to_host(*backend, model->forward_to("features.1", x, nn::ForwardContext{})), nn::to_host(*backend, y));
  EXPECT_THROW(model->forward_to("features.99", x, nn::ForwardContext{}), Error);
}

TEST_F(BnReestimationTest, RestoreIsBitIdentical) {
  const BatchNormState original = save_batchnorm(*model);
  const EvalResult before = evaluate(*model, train, norm);
  const BnReestimation r = reestimate_batchnorm(*model, train, norm, 20);
  EXPECT_FALSE(bit_identical(original, save_batchnorm(*model)));
  EXPECT_TRUE(bit_identical(original, r.before));
  restore_batchnorm(*model, r.before);
  EXPECT_TRUE(bit_identical(original, save_batchnorm(*model)));
  EXPECT_EQ(evaluate(*model, train, norm).logits, before.logits);

  nn::VggConfig other = model->config();
  other.model = "vgg16";
  nn::Vgg vgg16(other, *backend);
  EXPECT_THROW(restore_batchnorm(vgg16, original), Error);
}

TEST_F(BnReestimationTest, AllImagesWhenNExceedsTheSplit) {
  const BnReestimation all = reestimate_batchnorm(*model, train, norm, train.size());
  const BatchNormState expected = save_batchnorm(*model);
  restore_batchnorm(*model, all.before);
  const BnReestimation more = reestimate_batchnorm(*model, train, norm, 100000);
  EXPECT_EQ(more.images, train.size());
  EXPECT_TRUE(bit_identical(expected, save_batchnorm(*model)));
  EXPECT_THROW(reestimate_batchnorm(*model, train, norm, 0), Error);
}

// A failing forward leaves the statistics as they were.
TEST_F(BnReestimationTest, ErrorRestoresStatistics) {
  const BatchNormState original = save_batchnorm(*model);
  model->set_weight_hook([](const std::string& layer, const nn::Tensor&) -> std::optional<nn::Tensor> {
    if (layer == "features.8") throw Error("hook failed");
    return std::nullopt;
  });
  EXPECT_THROW(reestimate_batchnorm(*model, train, norm, 10), Error);
  model->set_weight_hook(nullptr);
  EXPECT_TRUE(bit_identical(original, save_batchnorm(*model)));
}

}  // namespace
}  // namespace sxb
