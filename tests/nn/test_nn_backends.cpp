// Every layer operation of the network backends (models/nn_backend.h) and a
// few SGD steps of a tiny VGG11: one table of cases, run on each backend of
// tests/support/nn_backends.h (cpu against plain loops here; cuda against the
// CPU in the test_nn_backends_gpu binary, SKIPPED without a GPU). Outputs
// start as NaN, so an element a kernel fails to write shows.
//
// Tolerances per operation, max |backend - oracle| / max |oracle| per tensor:
//   conv2d, linear, batch-norm outputs and gradients    1e-4 (2e-4 over several batch chunks)
//   batch-norm statistics, dlogits, SGD                   1e-6
//   the eval block (conv + batch-norm + ReLU + pool)      1e-4
//   sparse (CSR) forwards                                 1e-5
//   mean loss                                             1e-12 (relative)
//   a tiny VGG after four SGD steps                       1e-3
//   ReLU, max-pool, dropout, clamp, arg-max, correct count: the same bits
#include <gtest/gtest.h>

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
#include "tests/support/nn_backends.h"
#if defined(SPARSEXBAR_HAVE_CUDA)
#include "kernels/nn/cuda/layers_cuda.h"
#endif

namespace sxb::nn {
namespace {

using test_support::random_values;
using test_support::same_bits;

constexpr double kLayerTol = 1e-4, kChunkedTol = 2e-4, kStatisticsTol = 1e-6, kSparseTol = 1e-5;
constexpr double kLossTol = 1e-12;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

class NnBackendOps : public test_support::NnBackendPair {};

// --- memory ---------------------------------------------------------------------

TEST_P(NnBackendOps, UploadDownloadCopyFillRoundTrip) {
  const std::vector<float> v = random_values(1001, 1);
  Tensor t = from_host(*dev_, {7, 11, 13}, v);
  EXPECT_TRUE(same_bits(to_host(*dev_, t), v));
  Tensor u = dev_->empty({1001});
  dev_->copy(t, u);
  EXPECT_TRUE(same_bits(to_host(*dev_, u), v));
  dev_->fill(u, 2.5f);
  EXPECT_EQ(to_host(*dev_, u), std::vector<float>(1001, 2.5f));
  EXPECT_TRUE(same_bits(to_host(*dev_, t.reshaped({1001})), v));

  const std::vector<std::int32_t> ints = {3, -1, 7, 0, 2147483647};
  Tensor i = dev_->empty({5}, DType::I32);
  dev_->upload(ints.data(), i);
  EXPECT_EQ(download_as<std::int32_t>(*dev_, i), ints);
  const std::vector<std::uint8_t> bytes = {0, 1, 255, 0, 1, 1, 0};
  Tensor m = dev_->empty({7}, DType::U8);
  dev_->upload(bytes.data(), m);
  EXPECT_EQ(download_as<std::uint8_t>(*dev_, m), bytes);

  Tensor none = dev_->empty({0, 4});  // empty shapes are legal
  EXPECT_EQ(none.numel(), 0u);
  EXPECT_TRUE(to_host(*dev_, none).empty());
  EXPECT_EQ(dev_->name(), GetParam().name);
  EXPECT_FALSE(dev_->describe().empty());
}

TEST_P(NnBackendOps, TensorsOutliveTheBackend) {
  Tensor t = from_host(*dev_, {3}, {1.0f, 2.0f, 3.0f});
  dev_.reset();  // the device context stays until the last tensor is gone
  EXPECT_EQ(t.numel(), 3u);
  t = Tensor();
}

// --- conv2d -----------------------------------------------------------------------

Conv2dShape conv_shape(int N, int C, int H, int W, int K, int kh, int kw, int pad, int stride) {
  Conv2dShape s;
  s.batch = N, s.in_channels = C, s.height = H, s.width = W, s.out_channels = K;
  s.kernel_h = kh, s.kernel_w = kw, s.padding = pad, s.stride = stride;
  s.check();
  return s;
}

struct ConvCase {
  const char* name;
  Conv2dShape shape;
  bool bias;
  std::uint64_t seed;
  double tol = kLayerTol;
};

const ConvCase kConvCases[] = {
    {"same 3x3", conv_shape(3, 4, 7, 6, 5, 3, 3, 1, 1), true, 10},
    {"same 3x3, no bias", conv_shape(2, 3, 8, 8, 4, 3, 3, 1, 1), false, 20},
    {"valid, stride 2", conv_shape(2, 3, 9, 8, 4, 3, 3, 0, 2), true, 30},
    {"pointwise", conv_shape(2, 5, 5, 6, 3, 1, 1, 0, 1), true, 40},
    {"rectangular kernel, wide padding, stride 3", conv_shape(2, 2, 6, 5, 3, 2, 3, 2, 3), true, 50},
    {"VGG first layer", conv_shape(4, 3, 32, 32, 8, 3, 3, 1, 1), true, 60},
    {"single pixel, deep layer", conv_shape(5, 64, 1, 1, 32, 3, 3, 1, 1), true, 70},
    // Enough images that the CUDA path splits the batch into several chunks
    // (the weight gradient then adds chunk products in batch order).
    {"many images over several chunks", conv_shape(9, 128, 64, 64, 4, 3, 3, 1, 1), true, 80, kChunkedTol},
};

TEST_P(NnBackendOps, Conv2dForwardAndBackward) {
  for (const ConvCase& c : kConvCases) {
    SCOPED_TRACE(c.name);
    const Conv2dShape& s = c.shape;
#if defined(SPARSEXBAR_HAVE_CUDA)
    if (GetParam().on_gpu && c.tol == kChunkedTol)
      ASSERT_LT(gpu::plan_conv2d(s).images, s.batch) << "the shape no longer spans several chunks";
#endif
    const std::vector<int> xs = {s.batch, s.in_channels, s.height, s.width};
    const std::vector<int> ws = {s.out_channels, s.in_channels, s.kernel_h, s.kernel_w};
    const std::vector<int> ys = {s.batch, s.out_channels, s.out_height(), s.out_width()};
    const Pair x = random(xs, c.seed), w = random(ws, c.seed + 1), b = random({s.out_channels}, c.seed + 2);
    const Pair y = output(ys);
    ref_->conv2d_forward(s, x.ref, w.ref, c.bias ? &b.ref : nullptr, y.ref);
    dev_->conv2d_forward(s, x.dev, w.dev, c.bias ? &b.dev : nullptr, y.dev);
    EXPECT_LE(error(y), c.tol) << "y";

    const Pair dy = random(ys, c.seed + 3);
    for (bool need_dx : {true, false}) {
      const Pair dx = output(xs), dw = output(ws), db = output({s.out_channels});
      ref_->conv2d_backward(s, x.ref, w.ref, dy.ref, need_dx ? &dx.ref : nullptr, dw.ref, need_dx ? &db.ref : nullptr);
      dev_->conv2d_backward(s, x.dev, w.dev, dy.dev, need_dx ? &dx.dev : nullptr, dw.dev, need_dx ? &db.dev : nullptr);
      EXPECT_LE(error(dw), c.tol) << "dweight, need_dx " << need_dx;
      if (need_dx) {
        EXPECT_LE(error(dx), c.tol) << "dx";
        EXPECT_LE(error(db), c.tol) << "dbias";
      }
    }
  }
}

// --- batch norm ---------------------------------------------------------------

struct BatchNormCase {
  const char* name;
  int N, C, L;
  bool in_place;
  std::uint64_t seed;
};

const BatchNormCase kBatchNormCases[] = {{"small planes", 4, 3, 35, false, 100},
                                         {"one value per sample", 6, 5, 1, false, 110},
                                         {"in place", 3, 4, 64, true, 120},
                                         {"large planes", 8, 2, 1024, false, 130}};

TEST_P(NnBackendOps, BatchNormTrainBackwardAndEval) {
  for (const BatchNormCase& c : kBatchNormCases) {
    SCOPED_TRACE(c.name);
    const BatchNormShape s{c.N, c.C, c.L};
    const std::vector<int> xs = {c.N, c.C, c.L};
    const Pair x = random(xs, c.seed, -2.0f, 3.0f);
    const Pair gamma = random({c.C}, c.seed + 1, 0.5f, 1.5f), beta = random({c.C}, c.seed + 2);
    const Pair rmean = random({c.C}, c.seed + 3), rvar = random({c.C}, c.seed + 4, 0.5f, 2.0f);
    const Pair mean = output({c.C}), inv_std = output({c.C});
    // Keep the input for backward (the in-place forward overwrites it).
    const Pair x_saved = output(xs);
    ref_->copy(x.ref, x_saved.ref);
    dev_->copy(x.dev, x_saved.dev);
    const Pair y = c.in_place ? x : output(xs);
    ref_->batch_norm_forward_train(s, x.ref, gamma.ref, beta.ref, 1e-5f, 0.1f, rmean.ref, rvar.ref, y.ref, mean.ref,
                                   inv_std.ref);
    dev_->batch_norm_forward_train(s, x.dev, gamma.dev, beta.dev, 1e-5f, 0.1f, rmean.dev, rvar.dev, y.dev, mean.dev,
                                   inv_std.dev);
    EXPECT_LE(error(y), kLayerTol) << "y";
    EXPECT_LE(error(mean), kStatisticsTol) << "saved_mean";
    EXPECT_LE(error(inv_std), kStatisticsTol) << "saved_inv_std";
    EXPECT_LE(error(rmean), kStatisticsTol) << "running_mean";
    EXPECT_LE(error(rvar), kStatisticsTol) << "running_var";

    const Pair dy = random(xs, c.seed + 5);
    for (bool need_dx : {true, false}) {
      const Pair dx = output(xs), dgamma = output({c.C}), dbeta = output({c.C});
      ref_->batch_norm_backward(s, x_saved.ref, gamma.ref, mean.ref, inv_std.ref, dy.ref, need_dx ? &dx.ref : nullptr,
                                dgamma.ref, dbeta.ref);
      dev_->batch_norm_backward(s, x_saved.dev, gamma.dev, mean.dev, inv_std.dev, dy.dev, need_dx ? &dx.dev : nullptr,
                                dgamma.dev, dbeta.dev);
      EXPECT_LE(error(dgamma), kLayerTol) << "dgamma";
      EXPECT_LE(error(dbeta), kLayerTol) << "dbeta";
      if (need_dx) EXPECT_LE(error(dx), kLayerTol) << "dx";
    }

    const Pair ye = c.in_place ? x_saved : output(xs);
    ref_->batch_norm_forward_eval(s, x_saved.ref, gamma.ref, beta.ref, rmean.ref, rvar.ref, 1e-5f, ye.ref);
    dev_->batch_norm_forward_eval(s, x_saved.dev, gamma.dev, beta.dev, rmean.dev, rvar.dev, 1e-5f, ye.dev);
    EXPECT_LE(error(ye), kLayerTol) << "eval y";
  }
}

// --- relu, max-pool, dropout -----------------------------------------------------------

TEST_P(NnBackendOps, ReluForwardBackwardInPlace) {
  std::vector<float> v = random_values(5000, 200);
  for (std::size_t i = 0; i < v.size(); i += 7) v[i] = 0.0f;  // zero gets zero gradient
  v[1] = -0.0f;
  const Pair x = both({5000}, v), y = output({5000}), dy = random({5000}, 201), dx = output({5000});
  ref_->relu_forward(x.ref, y.ref);
  dev_->relu_forward(x.dev, y.dev);
  EXPECT_TRUE(identical(y));
  ref_->relu_backward(y.ref, dy.ref, dx.ref);
  dev_->relu_backward(y.dev, dy.dev, dx.dev);
  EXPECT_TRUE(identical(dx));
  ref_->relu_forward(x.ref, x.ref);  // in place, as the ReLU module runs
  dev_->relu_forward(x.dev, x.dev);
  EXPECT_TRUE(identical(x));
  ref_->relu_backward(x.ref, dy.ref, dy.ref);
  dev_->relu_backward(x.dev, dy.dev, dy.dev);
  EXPECT_TRUE(identical(dy));
}

TEST_P(NnBackendOps, MaxPoolOddSizesTiesAndNaN) {
  const PoolShape s{2, 3, 7, 9};
  const std::vector<int> xs = {2, 3, 7, 9}, ys = {2, 3, 3, 4};
  std::vector<float> v = random_values(2 * 3 * 7 * 9, 300);
  for (float& x : v) x = std::round(x * 2.0f);  // few distinct values: many ties
  v[10] = kNaN;
  v[100] = kNaN;
  const Pair x = both(xs, v), y = output(ys);
  Tensor arg_ref = ref_->empty(ys, DType::I32), arg_dev = dev_->empty(ys, DType::I32);
  ref_->max_pool2x2_forward(s, x.ref, y.ref, arg_ref);
  dev_->max_pool2x2_forward(s, x.dev, y.dev, arg_dev);
  EXPECT_TRUE(identical(y));  // NaN where the oracle has NaN, same bits elsewhere
  EXPECT_EQ(download_as<std::int32_t>(*dev_, arg_dev), download_as<std::int32_t>(*ref_, arg_ref));
  const Pair dy = random(ys, 301), dx = output(xs);
  ref_->max_pool2x2_backward(s, dy.ref, arg_ref, dx.ref);
  dev_->max_pool2x2_backward(s, dy.dev, arg_dev, dx.dev);
  EXPECT_TRUE(identical(dx));
}

TEST_P(NnBackendOps, DropoutMaskIsTheContractsMask) {
  for (float p : {0.0f, 0.3f, 0.5f, 1.0f}) {
    SCOPED_TRACE("p = " + std::to_string(p));
    const Pair x = random({10007}, 400), y = output({10007});
    ref_->dropout_forward(p, 17, 5, x.ref, y.ref);
    dev_->dropout_forward(p, 17, 5, x.dev, y.dev);
    EXPECT_TRUE(identical(y));
    const Pair dy = random({10007}, 401), dx = output({10007});
    ref_->dropout_backward(p, 17, 5, dy.ref, dx.ref);
    dev_->dropout_backward(p, 17, 5, dy.dev, dx.dev);
    EXPECT_TRUE(identical(dx));
    ref_->dropout_forward(p, 17, 6, x.ref, x.ref);  // in place, another step
    dev_->dropout_forward(p, 17, 6, x.dev, x.dev);
    EXPECT_TRUE(identical(x));
  }
}

// --- linear and sparse (CSR) forwards -------------------------------------------------------

TEST_P(NnBackendOps, LinearForwardBackward) {
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "bias" : "no bias");
    const LinearShape s{37, 50, 11};
    const Pair x = random({37, 50}, 500), w = random({11, 50}, 501), b = random({11}, 502);
    const Pair y = output({37, 11});
    ref_->linear_forward(s, x.ref, w.ref, with_bias ? &b.ref : nullptr, y.ref);
    dev_->linear_forward(s, x.dev, w.dev, with_bias ? &b.dev : nullptr, y.dev);
    EXPECT_LE(error(y), kLayerTol) << "y";
    const Pair dy = random({37, 11}, 503);
    for (bool need_dx : {true, false}) {
      const Pair dx = output({37, 50}), dw = output({11, 50}), db = output({11});
      ref_->linear_backward(s, x.ref, w.ref, dy.ref, need_dx ? &dx.ref : nullptr, dw.ref, need_dx ? &db.ref : nullptr);
      dev_->linear_backward(s, x.dev, w.dev, dy.dev, need_dx ? &dx.dev : nullptr, dw.dev, need_dx ? &db.dev : nullptr);
      EXPECT_LE(error(dw), kLayerTol) << "dweight";
      if (need_dx) {
        EXPECT_LE(error(dx), kLayerTol) << "dx";
        EXPECT_LE(error(db), kLayerTol) << "dbias";
      }
    }
  }
}

TEST_P(NnBackendOps, SparseConvForward) {
  for (const double density : {0.0, 0.05, 0.3, 1.0}) {
    SCOPED_TRACE("density " + std::to_string(density));
    const Conv2dShape s{5, 12, 9, 9, 20, 3, 3, 1, 1};
    const int rows = 20, cols = 12 * 9;
    std::vector<float> w = random_values(static_cast<std::size_t>(rows) * cols, 1);
    test_support::sparsify(w, density, 2);
    const Pair x = random({5, 12, 9, 9}, 3), bias = random({rows}, 4), y = output({5, rows, 9, 9});
    ref_->conv2d_forward_sparse(s, x.ref, sparse_from_dense(*ref_, w.data(), rows, cols), &bias.ref, y.ref);
    dev_->conv2d_forward_sparse(s, x.dev, sparse_from_dense(*dev_, w.data(), rows, cols), &bias.dev, y.dev);
    EXPECT_LE(error(y), kSparseTol);
  }
}

TEST_P(NnBackendOps, SparseLinearForward) {
  const LinearShape s{7, 64, 10};
  std::vector<float> w = random_values(640, 5);
  test_support::sparsify(w, 0.25, 6);
  const Pair x = random({7, 64}, 7), bias = random({10}, 8), y = output({7, 10});
  ref_->linear_forward_sparse(s, x.ref, sparse_from_dense(*ref_, w.data(), 10, 64), &bias.ref, y.ref);
  dev_->linear_forward_sparse(s, x.dev, sparse_from_dense(*dev_, w.data(), 10, 64), &bias.dev, y.dev);
  EXPECT_LE(error(y), kSparseTol);
}

// --- the eval path's convolution block ----------------------------------------------------

TEST_P(NnBackendOps, ConvBlockEvalIsTheLayersOneAfterAnother) {
  struct Case {
    int N, C, H, W, K;
    bool bn, relu, pool;
  };
  const Case cases[] = {{3, 24, 8, 8, 20, true, true, true},     // Winograd on the CPU, pooled
                        {2, 16, 6, 10, 8, false, false, false},  // bias only, not square
                        {4, 3, 12, 12, 16, true, true, true},    // im2col on the CPU
                        {2, 20, 7, 7, 12, true, false, true}};   // odd size, floor pooling
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.N) + "x" + std::to_string(c.C) + "x" + std::to_string(c.H) + "x" +
                 std::to_string(c.W) + " -> " + std::to_string(c.K));
    const Conv2dShape s = conv_shape(c.N, c.C, c.H, c.W, c.K, 3, 3, 1, 1);
    const Pair x = random({c.N, c.C, c.H, c.W}, 900), w = random({c.K, c.C, 3, 3}, 901, -0.3f, 0.3f);
    const Pair bias = random({c.K}, 902), gamma = random({c.K}, 903, 0.5f, 1.5f), beta = random({c.K}, 904);
    const Pair mean = random({c.K}, 905), var = random({c.K}, 906, 0.2f, 2.0f);
    const int Ho = c.pool ? s.out_height() / 2 : s.out_height(), Wo = c.pool ? s.out_width() / 2 : s.out_width();
    const Pair y = output({c.N, c.K, Ho, Wo});
    for (bool on_dev : {false, true}) {
      auto pick = [&](const Pair& p) { return on_dev ? &p.dev : &p.ref; };
      ConvBlock block;
      block.bias = pick(bias);
      if (c.bn) {
        block.gamma = pick(gamma), block.beta = pick(beta);
        block.running_mean = pick(mean), block.running_var = pick(var);
      }
      block.relu = c.relu;
      block.pool = c.pool;
      (on_dev ? *dev_ : *ref_).conv2d_block_eval(s, *pick(x), *pick(w), block, *pick(y));
    }
    EXPECT_LE(error(y), kLayerTol);
  }
}

// --- loss, optimizer, clamp ----------------------------------------------------------

TEST_P(NnBackendOps, SoftmaxCrossEntropy) {
  const int N = 300, K = 10;
  std::vector<float> z = random_values(static_cast<std::size_t>(N) * K, 600, -4.0f, 4.0f);
  for (int k = 0; k < K; ++k) z[k] = 1.0f;  // sample 0: all tied, arg-max is class 0
  std::vector<std::int32_t> labels(N);
  std::mt19937 rng(601);
  for (int& l : labels) l = static_cast<int>(rng() % K);
  labels[0] = 0;
  const Pair logits = both({N, K}, z);
  Tensor lr = ref_->empty({N}, DType::I32), ld = dev_->empty({N}, DType::I32);
  ref_->upload(labels.data(), lr);
  dev_->upload(labels.data(), ld);
  const Pair d = output({N, K});
  const LossResult want = ref_->softmax_cross_entropy(logits.ref, lr, &d.ref);
  const LossResult got = dev_->softmax_cross_entropy(logits.dev, ld, &d.dev);
  EXPECT_NEAR(got.loss, want.loss, kLossTol * std::abs(want.loss));
  EXPECT_EQ(got.correct, want.correct);
  EXPECT_LE(error(d), kStatisticsTol) << "dlogits";
  const LossResult no_grad = dev_->softmax_cross_entropy(logits.dev, ld, nullptr);
  EXPECT_EQ(no_grad.loss, got.loss);  // same reduction order: same bits
  EXPECT_EQ(no_grad.correct, got.correct);
}

TEST_P(NnBackendOps, SgdStepVariantsAndMask) {
  struct Case {
    const char* name;
    SgdParams p;
    bool mask;
  };
  const Case cases[] = {{"plain", {0.1f, 0.0f, 0.0f, false}, false},
                        {"momentum", {0.05f, 0.9f, 5e-4f, false}, false},
                        {"nesterov", {0.05f, 0.9f, 5e-4f, true}, false},
                        {"momentum + mask", {0.05f, 0.9f, 1e-3f, false}, true}};
  const int n = 4099;
  const std::vector<float> mask_values = random_values(n, 700);
  std::vector<std::uint8_t> mask(n);
  for (int i = 0; i < n; ++i) mask[i] = mask_values[i] > 0.0f;
  Tensor mr = ref_->empty({n}, DType::U8), md = dev_->empty({n}, DType::U8);
  ref_->upload(mask.data(), mr);
  dev_->upload(mask.data(), md);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Pair param = random({n}, 701), buf = output({n});
    ref_->fill(buf.ref, 0.0f);
    dev_->fill(buf.dev, 0.0f);
    for (int step = 0; step < 3; ++step) {
      const Pair grad = random({n}, 710 + step);
      const bool use_buf = c.p.momentum != 0.0f;
      ref_->sgd_step(c.p, param.ref, grad.ref, use_buf ? &buf.ref : nullptr, c.mask ? &mr : nullptr);
      dev_->sgd_step(c.p, param.dev, grad.dev, use_buf ? &buf.dev : nullptr, c.mask ? &md : nullptr);
      EXPECT_TRUE(identical(grad)) << "masked gradients are zeroed, others untouched";
    }
    EXPECT_LE(error(param), kStatisticsTol) << "param";
    EXPECT_LE(error(buf), kStatisticsTol) << "momentum";
  }
}

TEST_P(NnBackendOps, ClampIsExact) {
  const int n = 5003;  // more than one block, not a multiple of one
  std::vector<float> values = random_values(n, 720, -2.0f, 2.0f);
  values[0] = kNaN;
  values[1] = 0.75f;  // on the bounds
  values[2] = -0.75f;
  values[3] = -0.0f;
  const Pair t = both({n}, values);
  ref_->clamp(t.ref, -0.75f, 0.75f);
  dev_->clamp(t.dev, -0.75f, 0.75f);
  EXPECT_TRUE(identical(t)) << "an exact element-wise formula: the same bits";
  const std::vector<float> got = to_host(*dev_, t.dev);
  EXPECT_TRUE(std::isnan(got[0]));
  for (int i = 1; i < n; ++i) ASSERT_LE(std::abs(got[i]), 0.75f) << i;
  EXPECT_EQ(got[1], 0.75f);
  EXPECT_EQ(got[2], -0.75f);
  const Pair empty = both({0}, {});
  dev_->clamp(empty.dev, -1.0f, 1.0f);  // n = 0: nothing launched
}

SXB_INSTANTIATE_NN_BACKENDS(NnBackendOps);

}  // namespace
}  // namespace sxb::nn
