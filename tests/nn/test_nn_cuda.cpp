// CUDA backend of the neural-network engine against the CPU backend: every
// layer's forward and backward on random inputs, the SGD step, memory
// operations, and a few SGD steps of a tiny VGG11 on both backends. Every
// test is skipped (never passed) when no usable GPU is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/error.h"
#include "models/nn_backend.h"
#include "models/vgg.h"
#include "tests/support/random_values.h"
#include "tests/support/skip.h"
#if defined(SPARSEXBAR_HAVE_CUDA)
#include "kernels/nn/cuda/layers_cuda.h"
#endif

namespace sxb::nn {
namespace {

constexpr double kTol = 1e-4;  // max |cuda - cpu| / max |cpu| per tensor, one layer
const float kNaN = std::numeric_limits<float>::quiet_NaN();

using test_support::random_values;
using test_support::relative_error;

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

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// One tensor on each backend.
struct Pair {
  Tensor cpu, gpu;
};

class NnCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_nn_capability().usable) {
      EXPECT_FALSE(cuda_nn_capability().reason.empty());
      EXPECT_THROW(make_cuda_backend(), Error);
    }
    SXB_SKIP_UNLESS_USABLE(cuda_nn_capability());
    cpu_ = make_cpu_backend();
    gpu_ = make_cuda_backend();
  }

  Pair both(const std::vector<int>& shape, const std::vector<float>& values) {
    return {from_host(*cpu_, shape, values), from_host(*gpu_, shape, values)};
  }
  Pair random(const std::vector<int>& shape, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::size_t n = 1;
    for (int d : shape) n *= static_cast<std::size_t>(d);
    return both(shape, random_values(n, seed, lo, hi));
  }
  // Outputs start as NaN on both sides: an element a kernel fails to write shows.
  Pair output(const std::vector<int>& shape) {
    Pair p{cpu_->empty(shape), gpu_->empty(shape)};
    cpu_->fill(p.cpu, kNaN);
    gpu_->fill(p.gpu, kNaN);
    return p;
  }
  std::vector<float> host(Backend& b, const Tensor& t) { return to_host(b, t); }
  double error(const Pair& p) { return relative_error(to_host(*gpu_, p.gpu), to_host(*cpu_, p.cpu)); }
  bool identical(const Pair& p) { return same_bits(to_host(*gpu_, p.gpu), to_host(*cpu_, p.cpu)); }
  template <class T>
  std::vector<T> download_as(Backend& b, const Tensor& t) {
    std::vector<T> v(t.numel());
    b.download(t, v.data());
    return v;
  }

  std::unique_ptr<Backend> cpu_, gpu_;
};

// --- memory ---------------------------------------------------------------------

TEST_F(NnCuda, UploadDownloadCopyFillRoundTrip) {
  const std::vector<float> v = random_values(1001, 1);
  Tensor t = from_host(*gpu_, {7, 11, 13}, v);
  EXPECT_TRUE(same_bits(to_host(*gpu_, t), v));
  Tensor u = gpu_->empty({1001});
  gpu_->copy(t, u);
  EXPECT_TRUE(same_bits(to_host(*gpu_, u), v));
  gpu_->fill(u, 2.5f);
  EXPECT_EQ(to_host(*gpu_, u), std::vector<float>(1001, 2.5f));
  EXPECT_TRUE(same_bits(to_host(*gpu_, t.reshaped({1001})), v));

  const std::vector<std::int32_t> ints = {3, -1, 7, 0, 2147483647};
  Tensor i = gpu_->empty({5}, DType::I32);
  gpu_->upload(ints.data(), i);
  EXPECT_EQ(download_as<std::int32_t>(*gpu_, i), ints);
  const std::vector<std::uint8_t> bytes = {0, 1, 255, 0, 1, 1, 0};
  Tensor m = gpu_->empty({7}, DType::U8);
  gpu_->upload(bytes.data(), m);
  EXPECT_EQ(download_as<std::uint8_t>(*gpu_, m), bytes);

  Tensor none = gpu_->empty({0, 4});  // empty shapes are legal
  EXPECT_EQ(none.numel(), 0u);
  EXPECT_TRUE(to_host(*gpu_, none).empty());
  EXPECT_EQ(gpu_->name(), "cuda");
  EXPECT_FALSE(gpu_->describe().empty());
}

TEST_F(NnCuda, TensorsOutliveTheBackend) {
  Tensor t = from_host(*gpu_, {3}, {1.0f, 2.0f, 3.0f});
  gpu_.reset();  // the device context stays until the last tensor is gone
  t = Tensor();
  SUCCEED();
}

// --- conv2d -----------------------------------------------------------------------

Conv2dShape conv_shape(int N, int C, int H, int W, int K, int kh, int kw, int pad, int stride) {
  Conv2dShape s;
  s.batch = N, s.in_channels = C, s.height = H, s.width = W, s.out_channels = K;
  s.kernel_h = kh, s.kernel_w = kw, s.padding = pad, s.stride = stride;
  s.check();
  return s;
}

class NnCudaConv : public NnCuda {
 protected:
  void check(const Conv2dShape& s, bool with_bias, std::uint64_t seed, double tol = kTol) {
    SCOPED_TRACE("conv N" + std::to_string(s.batch) + " C" + std::to_string(s.in_channels) + " " +
                 std::to_string(s.height) + "x" + std::to_string(s.width) + " K" + std::to_string(s.out_channels) +
                 " k" + std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) + " pad " +
                 std::to_string(s.padding) + " stride " + std::to_string(s.stride) + (with_bias ? " bias" : ""));
    const std::vector<int> xs = {s.batch, s.in_channels, s.height, s.width};
    const std::vector<int> ws = {s.out_channels, s.in_channels, s.kernel_h, s.kernel_w};
    const std::vector<int> ys = {s.batch, s.out_channels, s.out_height(), s.out_width()};
    const Pair x = random(xs, seed), w = random(ws, seed + 1), b = random({s.out_channels}, seed + 2);
    const Pair y = output(ys);
    cpu_->conv2d_forward(s, x.cpu, w.cpu, with_bias ? &b.cpu : nullptr, y.cpu);
    gpu_->conv2d_forward(s, x.gpu, w.gpu, with_bias ? &b.gpu : nullptr, y.gpu);
    EXPECT_LE(error(y), tol) << "y";

    const Pair dy = random(ys, seed + 3);
    for (bool need_dx : {true, false}) {
      const Pair dx = output(xs), dw = output(ws), db = output({s.out_channels});
      cpu_->conv2d_backward(s, x.cpu, w.cpu, dy.cpu, need_dx ? &dx.cpu : nullptr, dw.cpu, need_dx ? &db.cpu : nullptr);
      gpu_->conv2d_backward(s, x.gpu, w.gpu, dy.gpu, need_dx ? &dx.gpu : nullptr, dw.gpu, need_dx ? &db.gpu : nullptr);
      EXPECT_LE(error(dw), tol) << "dweight, need_dx " << need_dx;
      if (need_dx) {
        EXPECT_LE(error(dx), tol) << "dx";
        EXPECT_LE(error(db), tol) << "dbias";
      }
    }
  }
};

TEST_F(NnCudaConv, Same3x3) { check(conv_shape(3, 4, 7, 6, 5, 3, 3, 1, 1), true, 10); }
TEST_F(NnCudaConv, Same3x3NoBias) { check(conv_shape(2, 3, 8, 8, 4, 3, 3, 1, 1), false, 20); }
TEST_F(NnCudaConv, ValidStride2) { check(conv_shape(2, 3, 9, 8, 4, 3, 3, 0, 2), true, 30); }
TEST_F(NnCudaConv, Pointwise) { check(conv_shape(2, 5, 5, 6, 3, 1, 1, 0, 1), true, 40); }
TEST_F(NnCudaConv, RectangularKernelWidePaddingStride3) { check(conv_shape(2, 2, 6, 5, 3, 2, 3, 2, 3), true, 50); }
TEST_F(NnCudaConv, VggFirstLayer) { check(conv_shape(4, 3, 32, 32, 8, 3, 3, 1, 1), true, 60); }
TEST_F(NnCudaConv, SinglePixelDeepLayer) { check(conv_shape(5, 64, 1, 1, 32, 3, 3, 1, 1), true, 70); }

// Enough images that the CUDA path splits the batch into several chunks
// (the weight gradient then adds chunk products in batch order).
TEST_F(NnCudaConv, ManyImagesSpanSeveralChunks) {
  const Conv2dShape s = conv_shape(9, 128, 64, 64, 4, 3, 3, 1, 1);
#if defined(SPARSEXBAR_HAVE_CUDA)
  ASSERT_LT(gpu::plan_conv2d(s).images, s.batch) << "the shape no longer spans several chunks";
#endif
  check(s, true, 80, 2e-4);
}

// --- batch norm ---------------------------------------------------------------

class NnCudaBatchNorm : public NnCuda {
 protected:
  void check(int N, int C, int L, bool in_place, std::uint64_t seed) {
    SCOPED_TRACE("batch_norm N" + std::to_string(N) + " C" + std::to_string(C) + " L" + std::to_string(L) +
                 (in_place ? " in place" : ""));
    const BatchNormShape s{N, C, L};
    const std::vector<int> xs = {N, C, L};
    const Pair x = random(xs, seed, -2.0f, 3.0f);
    const Pair gamma = random({C}, seed + 1, 0.5f, 1.5f), beta = random({C}, seed + 2);
    const Pair rmean = random({C}, seed + 3), rvar = random({C}, seed + 4, 0.5f, 2.0f);
    const Pair mean = output({C}), inv_std = output({C});
    // Keep the input for backward (the in-place forward overwrites it).
    const Pair x_saved = output(xs);
    cpu_->copy(x.cpu, x_saved.cpu);
    gpu_->copy(x.gpu, x_saved.gpu);
    const Pair y = in_place ? x : output(xs);
    cpu_->batch_norm_forward_train(s, x.cpu, gamma.cpu, beta.cpu, 1e-5f, 0.1f, rmean.cpu, rvar.cpu, y.cpu, mean.cpu,
                                   inv_std.cpu);
    gpu_->batch_norm_forward_train(s, x.gpu, gamma.gpu, beta.gpu, 1e-5f, 0.1f, rmean.gpu, rvar.gpu, y.gpu, mean.gpu,
                                   inv_std.gpu);
    EXPECT_LE(error(y), kTol) << "y";
    EXPECT_LE(error(mean), 1e-6) << "saved_mean";
    EXPECT_LE(error(inv_std), 1e-6) << "saved_inv_std";
    EXPECT_LE(error(rmean), 1e-6) << "running_mean";
    EXPECT_LE(error(rvar), 1e-6) << "running_var";

    const Pair dy = random(xs, seed + 5);
    for (bool need_dx : {true, false}) {
      const Pair dx = output(xs), dgamma = output({C}), dbeta = output({C});
      cpu_->batch_norm_backward(s, x_saved.cpu, gamma.cpu, mean.cpu, inv_std.cpu, dy.cpu, need_dx ? &dx.cpu : nullptr,
                                dgamma.cpu, dbeta.cpu);
      gpu_->batch_norm_backward(s, x_saved.gpu, gamma.gpu, mean.gpu, inv_std.gpu, dy.gpu, need_dx ? &dx.gpu : nullptr,
                                dgamma.gpu, dbeta.gpu);
      EXPECT_LE(error(dgamma), kTol) << "dgamma";
      EXPECT_LE(error(dbeta), kTol) << "dbeta";
      if (need_dx) EXPECT_LE(error(dx), kTol) << "dx";
    }

    const Pair ye = in_place ? x_saved : output(xs);
    const Pair& xe = x_saved;
    cpu_->batch_norm_forward_eval(s, xe.cpu, gamma.cpu, beta.cpu, rmean.cpu, rvar.cpu, 1e-5f, ye.cpu);
    gpu_->batch_norm_forward_eval(s, xe.gpu, gamma.gpu, beta.gpu, rmean.gpu, rvar.gpu, 1e-5f, ye.gpu);
    EXPECT_LE(error(ye), kTol) << "eval y";
  }
};

TEST_F(NnCudaBatchNorm, SmallPlanes) { check(4, 3, 35, false, 100); }
TEST_F(NnCudaBatchNorm, OneValuePerSample) { check(6, 5, 1, false, 110); }
TEST_F(NnCudaBatchNorm, InPlace) { check(3, 4, 64, true, 120); }
TEST_F(NnCudaBatchNorm, LargePlanes) { check(8, 2, 1024, false, 130); }

// --- relu, max-pool, dropout -----------------------------------------------------------

TEST_F(NnCuda, ReluForwardBackwardInPlace) {
  std::vector<float> v = random_values(5000, 200);
  for (std::size_t i = 0; i < v.size(); i += 7) v[i] = 0.0f;  // zero gets zero gradient
  const Pair x = both({5000}, v), y = output({5000}), dy = random({5000}, 201), dx = output({5000});
  cpu_->relu_forward(x.cpu, y.cpu);
  gpu_->relu_forward(x.gpu, y.gpu);
  EXPECT_TRUE(identical(y));
  cpu_->relu_backward(y.cpu, dy.cpu, dx.cpu);
  gpu_->relu_backward(y.gpu, dy.gpu, dx.gpu);
  EXPECT_TRUE(identical(dx));
  cpu_->relu_forward(x.cpu, x.cpu);  // in place, as the ReLU module runs
  gpu_->relu_forward(x.gpu, x.gpu);
  EXPECT_TRUE(identical(x));
  cpu_->relu_backward(x.cpu, dy.cpu, dy.cpu);
  gpu_->relu_backward(x.gpu, dy.gpu, dy.gpu);
  EXPECT_TRUE(identical(dy));
}

TEST_F(NnCuda, MaxPoolOddSizesTiesAndNaN) {
  const PoolShape s{2, 3, 7, 9};
  const std::vector<int> xs = {2, 3, 7, 9}, ys = {2, 3, 3, 4};
  std::vector<float> v = random_values(2 * 3 * 7 * 9, 300);
  for (float& x : v) x = std::round(x * 2.0f);  // few distinct values: many ties
  v[10] = kNaN;
  v[100] = kNaN;
  const Pair x = both(xs, v), y = output(ys);
  Tensor arg_cpu = cpu_->empty(ys, DType::I32), arg_gpu = gpu_->empty(ys, DType::I32);
  cpu_->max_pool2x2_forward(s, x.cpu, y.cpu, arg_cpu);
  gpu_->max_pool2x2_forward(s, x.gpu, y.gpu, arg_gpu);
  EXPECT_TRUE(identical(y));  // NaN where the CPU has NaN, same bits elsewhere
  EXPECT_EQ(download_as<std::int32_t>(*gpu_, arg_gpu), download_as<std::int32_t>(*cpu_, arg_cpu));
  const Pair dy = random(ys, 301), dx = output(xs);
  cpu_->max_pool2x2_backward(s, dy.cpu, arg_cpu, dx.cpu);
  gpu_->max_pool2x2_backward(s, dy.gpu, arg_gpu, dx.gpu);
  EXPECT_TRUE(identical(dx));
}

TEST_F(NnCuda, DropoutMaskIsTheCpuMask) {
  for (float p : {0.0f, 0.3f, 0.5f, 1.0f}) {
    SCOPED_TRACE("p = " + std::to_string(p));
    const Pair x = random({10007}, 400), y = output({10007});
    cpu_->dropout_forward(p, 17, 5, x.cpu, y.cpu);
    gpu_->dropout_forward(p, 17, 5, x.gpu, y.gpu);
    EXPECT_TRUE(identical(y));
    const Pair dy = random({10007}, 401), dx = output({10007});
    cpu_->dropout_backward(p, 17, 5, dy.cpu, dx.cpu);
    gpu_->dropout_backward(p, 17, 5, dy.gpu, dx.gpu);
    EXPECT_TRUE(identical(dx));
    cpu_->dropout_forward(p, 17, 6, x.cpu, x.cpu);  // in place, another step
    gpu_->dropout_forward(p, 17, 6, x.gpu, x.gpu);
    EXPECT_TRUE(identical(x));
  }
}

// --- linear -------------------------------------------------------------------------

TEST_F(NnCuda, LinearForwardBackward) {
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "bias" : "no bias");
    const LinearShape s{37, 50, 11};
    const Pair x = random({37, 50}, 500), w = random({11, 50}, 501), b = random({11}, 502);
    const Pair y = output({37, 11});
    cpu_->linear_forward(s, x.cpu, w.cpu, with_bias ? &b.cpu : nullptr, y.cpu);
    gpu_->linear_forward(s, x.gpu, w.gpu, with_bias ? &b.gpu : nullptr, y.gpu);
    EXPECT_LE(error(y), kTol) << "y";
    const Pair dy = random({37, 11}, 503);
    for (bool need_dx : {true, false}) {
      const Pair dx = output({37, 50}), dw = output({11, 50}), db = output({11});
      cpu_->linear_backward(s, x.cpu, w.cpu, dy.cpu, need_dx ? &dx.cpu : nullptr, dw.cpu, need_dx ? &db.cpu : nullptr);
      gpu_->linear_backward(s, x.gpu, w.gpu, dy.gpu, need_dx ? &dx.gpu : nullptr, dw.gpu, need_dx ? &db.gpu : nullptr);
      EXPECT_LE(error(dw), kTol) << "dweight";
      if (need_dx) {
        EXPECT_LE(error(dx), kTol) << "dx";
        EXPECT_LE(error(db), kTol) << "dbias";
      }
    }
  }
}

// --- loss and optimizer ----------------------------------------------------------

TEST_F(NnCuda, SoftmaxCrossEntropy) {
  const int N = 300, K = 10;
  std::vector<float> z = random_values(static_cast<std::size_t>(N) * K, 600, -4.0f, 4.0f);
  for (int k = 0; k < K; ++k) z[k] = 1.0f;  // sample 0: all tied, arg-max is class 0
  std::vector<std::int32_t> labels(N);
  std::mt19937 rng(601);
  for (int& l : labels) l = static_cast<int>(rng() % K);
  labels[0] = 0;
  const Pair logits = both({N, K}, z);
  Tensor lc = cpu_->empty({N}, DType::I32), lg = gpu_->empty({N}, DType::I32);
  cpu_->upload(labels.data(), lc);
  gpu_->upload(labels.data(), lg);
  const Pair d = output({N, K});
  const LossResult rc = cpu_->softmax_cross_entropy(logits.cpu, lc, &d.cpu);
  const LossResult rg = gpu_->softmax_cross_entropy(logits.gpu, lg, &d.gpu);
  EXPECT_NEAR(rg.loss, rc.loss, 1e-12 * std::abs(rc.loss));
  EXPECT_EQ(rg.correct, rc.correct);
  EXPECT_LE(error(d), 1e-6) << "dlogits";
  const LossResult no_grad = gpu_->softmax_cross_entropy(logits.gpu, lg, nullptr);
  EXPECT_EQ(no_grad.loss, rg.loss);  // same reduction order: same bits
  EXPECT_EQ(no_grad.correct, rg.correct);
}

TEST_F(NnCuda, SgdStepVariantsAndMask) {
  struct Case {
    const char* name;
    SgdParams p;
    bool mask;
  };
  const Case cases[] = {{"plain", {0.1f, 0.0f, 0.0f, false}, false},
                        {"momentum", {0.05f, 0.9f, 5e-4f, false}, false},
                        {"nesterov", {0.05f, 0.9f, 5e-4f, true}, false},
                        {"momentum + mask", {0.05f, 0.9f, 1e-3f, false}, true}};
  const std::size_t n = 4099;
  std::vector<float> mask_values = random_values(n, 700);
  std::vector<std::uint8_t> mask(n);
  for (std::size_t i = 0; i < n; ++i) mask[i] = mask_values[i] > 0.0f;
  Tensor mc = cpu_->empty({int(n)}, DType::U8), mg = gpu_->empty({int(n)}, DType::U8);
  cpu_->upload(mask.data(), mc);
  gpu_->upload(mask.data(), mg);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Pair param = random({int(n)}, 701), buf = output({int(n)});
    cpu_->fill(buf.cpu, 0.0f);
    gpu_->fill(buf.gpu, 0.0f);
    for (int step = 0; step < 3; ++step) {
      const Pair grad = random({int(n)}, 710 + step);
      const bool use_buf = c.p.momentum != 0.0f;
      cpu_->sgd_step(c.p, param.cpu, grad.cpu, use_buf ? &buf.cpu : nullptr, c.mask ? &mc : nullptr);
      gpu_->sgd_step(c.p, param.gpu, grad.gpu, use_buf ? &buf.gpu : nullptr, c.mask ? &mg : nullptr);
      EXPECT_LE(error(grad), 0.0) << "masked gradients are zeroed, others untouched";
    }
    EXPECT_LE(error(param), 1e-6) << "param";
    EXPECT_LE(error(buf), 1e-6) << "momentum";
  }
}

TEST_F(NnCuda, ClampIsTheCpuClamp) {
  const std::size_t n = 5003;  // more than one block, not a multiple of one
  std::vector<float> values = random_values(n, 720, -2.0f, 2.0f);
  values[0] = kNaN;
  values[1] = 0.75f;  // on the bounds
  values[2] = -0.75f;
  values[3] = -0.0f;
  const Pair t = both({int(n)}, values);
  cpu_->clamp(t.cpu, -0.75f, 0.75f);
  gpu_->clamp(t.gpu, -0.75f, 0.75f);
  EXPECT_TRUE(identical(t)) << "an exact element-wise formula: the same bits";
  const std::vector<float> got = to_host(*gpu_, t.gpu);
  EXPECT_TRUE(std::isnan(got[0]));
  for (std::size_t i = 1; i < n; ++i) ASSERT_LE(std::abs(got[i]), 0.75f) << i;
  EXPECT_EQ(got[1], 0.75f);
  EXPECT_EQ(got[2], -0.75f);
  const Pair empty = both({0}, {});
  gpu_->clamp(empty.gpu, -1.0f, 1.0f);  // n = 0: nothing launched
}

// --- a tiny VGG on both backends -------------------------------------------------

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

TEST_F(NnCuda, TinyVggTrainsLikeTheCpu) {
  const int steps = 4;
  const TrainingRun c = train_tiny_vgg(*cpu_, steps), g = train_tiny_vgg(*gpu_, steps);
  for (int s = 0; s < steps; ++s) {
    EXPECT_NEAR(g.losses[s], c.losses[s], 1e-4 * std::abs(c.losses[s])) << "loss at step " << s;
    EXPECT_EQ(g.correct[s], c.correct[s]) << "step " << s;
  }
  // A conv bias followed by train-mode batch norm has zero gradient in exact
  // arithmetic, so only rounding noise is left to compare there: each
  // gradient's error is taken relative to its largest entry, but to no less
  // than 1e-3 of the largest gradient entry of the whole network.
  ASSERT_EQ(g.first_grads.size(), c.first_grads.size());
  double largest = 0.0;
  for (const std::vector<float>& grad : c.first_grads) largest = std::max(largest, max_abs(grad));
  for (std::size_t k = 0; k < c.first_grads.size(); ++k) {
    const double scale = std::max(max_abs(c.first_grads[k]), 1e-3 * largest);
    EXPECT_LE(max_abs_difference(g.first_grads[k], c.first_grads[k]) / scale, 1e-3) << "gradient of parameter " << k;
  }
  for (std::size_t k = 0; k < c.params.size(); ++k)
    EXPECT_LE(relative_error(g.params[k], c.params[k]), 1e-3) << "parameter " << k << " after " << steps << " steps";
  for (std::size_t k = 0; k < c.buffers.size(); ++k)
    EXPECT_LE(relative_error(g.buffers[k], c.buffers[k]), 1e-3) << "buffer " << k;
  EXPECT_LE(relative_error(g.eval_logits, c.eval_logits), 1e-3) << "eval logits";

  // Run to run, the GPU repeats itself bit for bit.
  const TrainingRun again = train_tiny_vgg(*gpu_, steps);
  EXPECT_EQ(again.losses, g.losses);
  for (std::size_t k = 0; k < g.params.size(); ++k) EXPECT_TRUE(same_bits(again.params[k], g.params[k])) << k;
}

TEST(NnCudaSelection, DeviceNames) {
  EXPECT_EQ(make_backend("cpu")->name(), "cpu");
  EXPECT_THROW(make_backend("tpu"), Error);
  const std::string expected = cuda_nn_available() ? "cuda" : "cpu";
  EXPECT_EQ(make_backend("auto")->name(), expected);
  if (!cuda_nn_available()) {
    EXPECT_THROW(make_backend("cuda"), Error);
    GTEST_SKIP() << "no usable CUDA GPU: the cuda device was checked only for its error";
  }
  EXPECT_EQ(make_backend("cuda")->name(), "cuda");
}

}  // namespace
}  // namespace sxb::nn
