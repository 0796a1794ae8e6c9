// A tiny VGG11 trained for a few SGD steps on each backend of the table
// (tests/support/nn_backends.h) against its oracle, and the device names of
// make_backend. Tolerance: 1e-3 of the largest entry per tensor after four
// steps (losses relative to the loss); run to run, a backend repeats itself
// bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/common/error.h"
#include "models/nn_backend.h"
#include "models/vgg.h"
#include "tests/support/nn_backends.h"

namespace sxb::nn {
namespace {

using test_support::random_values;
using test_support::relative_error;
using test_support::same_bits;

constexpr double kNetworkTol = 1e-3;

class NnBackendNetwork : public test_support::NnBackendPair {};

double max_abs(const std::vector<float>& v) {
  double m = 0.0;
  for (float x : v) m = std::max(m, std::abs(static_cast<double>(x)));
  return m;
}

// max |got - want|; infinite for a size mismatch or a non-finite value.
double max_abs_difference(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  double diff = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(static_cast<double>(got[i]) - want[i]);
    if (!std::isfinite(d)) return INFINITY;
    diff = std::max(diff, d);
  }
  return diff;
}

struct TrainingRun {
  std::vector<double> losses;
  std::vector<int> correct;
  std::vector<std::vector<float>> first_grads, params, buffers;
  std::vector<float> eval_logits;
};

TrainingRun train_tiny_vgg(Backend& b, int steps) {
  VggConfig c{"vgg11", 0.125, 10};
  c.dropout = 0.25f;
  Vgg model(c, b);
  model.init(7);
  model.prepare_training();
  const int N = 8;
  const std::vector<float> x = random_values(static_cast<std::size_t>(N) * 3 * 32 * 32, 800, -2.0f, 2.0f);
  const Tensor input = from_host(b, {N, 3, 32, 32}, x);
  const std::vector<std::int32_t> label_values = {0, 1, 2, 3, 4, 5, 6, 7};
  Tensor labels = b.empty({N}, DType::I32);
  b.upload(label_values.data(), labels);
  Tensor dlogits = b.empty({N, 10});
  const SgdParams sgd{0.05f, 0.9f, 5e-4f, false};
  TrainingRun r;
  for (int step = 0; step < steps; ++step) {
    const Tensor& logits = model.forward(input, ForwardContext{Mode::Train, 3, static_cast<std::uint64_t>(step)});
    const LossResult loss = b.softmax_cross_entropy(logits, labels, &dlogits);
    r.losses.push_back(loss.loss);
    r.correct.push_back(loss.correct);
    model.backward(dlogits);
    if (step == 0)
      for (Parameter* p : model.parameters()) r.first_grads.push_back(to_host(b, p->grad));
    for (Parameter* p : model.parameters()) b.sgd_step(sgd, p->value, p->grad, &p->momentum, nullptr);
  }
  for (Parameter* p : model.parameters()) r.params.push_back(to_host(b, p->value));
  for (Buffer* buf : model.buffers())
    if (!buf->is_count) r.buffers.push_back(to_host(b, buf->value));
  r.eval_logits = to_host(b, model.forward(input, ForwardContext{}));
  return r;
}

TEST_P(NnBackendNetwork, TinyVggTrainsLikeTheOracle) {
  const int steps = 4;
  const TrainingRun want = train_tiny_vgg(*ref_, steps), got = train_tiny_vgg(*dev_, steps);
  for (int s = 0; s < steps; ++s) {
    EXPECT_NEAR(got.losses[s], want.losses[s], kNetworkTol * std::abs(want.losses[s])) << "loss at step " << s;
    EXPECT_EQ(got.correct[s], want.correct[s]) << "step " << s;
  }
  // A conv bias followed by train-mode batch norm has zero gradient in exact
  // arithmetic, so only rounding noise is left to compare there: each
  // gradient's error is taken relative to its largest entry, but to no less
  // than 1e-3 of the largest gradient entry of the whole network.
  ASSERT_EQ(got.first_grads.size(), want.first_grads.size());
  double largest = 0.0;
  for (const std::vector<float>& grad : want.first_grads) largest = std::max(largest, max_abs(grad));
  for (std::size_t k = 0; k < want.first_grads.size(); ++k) {
    const double scale = std::max(max_abs(want.first_grads[k]), 1e-3 * largest);
    EXPECT_LE(max_abs_difference(got.first_grads[k], want.first_grads[k]) / scale, kNetworkTol)
        << "gradient of parameter " << k;
  }
  for (std::size_t k = 0; k < want.params.size(); ++k)
    EXPECT_LE(relative_error(got.params[k], want.params[k]), kNetworkTol) << "parameter " << k << " after " << steps
                                                                          << " steps";
  for (std::size_t k = 0; k < want.buffers.size(); ++k)
    EXPECT_LE(relative_error(got.buffers[k], want.buffers[k]), kNetworkTol) << "buffer " << k;
  EXPECT_LE(relative_error(got.eval_logits, want.eval_logits), kNetworkTol) << "eval logits";

  // Run to run, the backend repeats itself bit for bit.
  const TrainingRun again = train_tiny_vgg(*dev_, steps);
  EXPECT_EQ(again.losses, got.losses);
  for (std::size_t k = 0; k < got.params.size(); ++k) EXPECT_TRUE(same_bits(again.params[k], got.params[k])) << k;
}

SXB_INSTANTIATE_NN_BACKENDS(NnBackendNetwork);

// make_backend by name, and the cuda name refused with the reason when no
// GPU is usable (then SKIPPED: the GPU path itself was not run).
TEST(NnBackendSelection, DeviceNames) {
  EXPECT_EQ(make_backend("cpu")->name(), "cpu");
  EXPECT_THROW(make_backend("tpu"), Error);
  const std::string expected = cuda_nn_available() ? "cuda" : "cpu";
  EXPECT_EQ(make_backend("auto")->name(), expected);
#ifdef SXB_GPU_INSTANCES
  if (!cuda_nn_available()) {
    EXPECT_THROW(make_backend("cuda"), Error);
    GTEST_SKIP() << "no usable CUDA GPU: the cuda device was checked only for its error";
  }
  EXPECT_EQ(make_backend("cuda")->name(), "cuda");
#endif
}

}  // namespace
}  // namespace sxb::nn
