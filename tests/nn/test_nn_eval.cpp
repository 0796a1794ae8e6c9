// The eval path's convolution block (kernels/nn/cpu conv2d_forward_eval:
// Winograd F(2,3) and im2col with the fused epilogue) against the training
// kernels run one after another, and its determinism across thread counts.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernels/nn/layers.h"
#include "tests/support/nn_checks.h"
#include "tests/support/random_values.h"

namespace sxb::nn {
namespace {

using namespace test_support;

struct Case {
  int N, C, H, W, K;
  bool bn, relu, pool;
};

Conv2dShape shape_of(const Case& c) {
  Conv2dShape s;
  s.batch = c.N, s.in_channels = c.C, s.height = c.H, s.width = c.W, s.out_channels = c.K;
  s.kernel_h = s.kernel_w = 3, s.padding = 1, s.stride = 1;
  s.check();
  return s;
}

struct Data {
  std::vector<float> x, w, bias, gamma, beta, mean, var, scale, shift;
  Data(const Conv2dShape& s, std::uint64_t seed)
      : x(random_values(static_cast<std::size_t>(s.batch) * s.in_channels * s.height * s.width, seed)),
        w(random_values(static_cast<std::size_t>(s.out_channels) * s.in_channels * 9, seed + 1, -0.3f, 0.3f)),
        bias(random_values(s.out_channels, seed + 2)), gamma(random_values(s.out_channels, seed + 3, 0.5f, 1.5f)),
        beta(random_values(s.out_channels, seed + 4)), mean(random_values(s.out_channels, seed + 5)),
        var(random_values(s.out_channels, seed + 6, 0.2f, 2.0f)), scale(s.out_channels), shift(s.out_channels) {
    cpu::batch_norm_eval_affine(s.out_channels, gamma.data(), beta.data(), mean.data(), var.data(), 1e-5f,
                                scale.data(), shift.data());
  }
  ConvEpilogue epilogue(const Case& c) const {
    ConvEpilogue e;
    e.bias = bias.data();
    if (c.bn) e.scale = scale.data(), e.shift = shift.data();
    e.relu = c.relu;
    e.pool = c.pool;
    return e;
  }
};

// conv2d_forward, batch_norm_forward_eval, relu_forward, max_pool2x2_forward.
std::vector<float> separate_layers(const Case& c, const Data& d) {
  const Conv2dShape s = shape_of(c);
  const int Ho = s.out_height(), Wo = s.out_width();
  std::vector<float> y(static_cast<std::size_t>(c.N) * c.K * Ho * Wo);
  cpu::conv2d_forward(s, d.x.data(), d.w.data(), d.bias.data(), y.data());
  if (c.bn)
    cpu::batch_norm_forward_eval(BatchNormShape{c.N, c.K, Ho * Wo}, y.data(), d.gamma.data(), d.beta.data(),
                                 d.mean.data(), d.var.data(), 1e-5f, y.data());
  if (c.relu) cpu::relu_forward(y.size(), y.data(), y.data());
  if (!c.pool) return y;
  const PoolShape p{c.N, c.K, Ho, Wo};
  std::vector<float> pooled(static_cast<std::size_t>(c.N) * c.K * p.out_height() * p.out_width());
  std::vector<std::int32_t> argmax(pooled.size());
  cpu::max_pool2x2_forward(p, y.data(), pooled.data(), argmax.data());
  return pooled;
}

std::vector<float> eval_block(const Case& c, const Data& d) {
  const Conv2dShape s = shape_of(c);
  const int Ho = s.out_height(), Wo = s.out_width();
  const std::size_t n = static_cast<std::size_t>(c.N) * c.K * (c.pool ? (Ho / 2) * (Wo / 2) : Ho * Wo);
  std::vector<float> y(n, -7.0f);
  cpu::conv2d_forward_eval(s, d.x.data(), d.w.data(), d.epilogue(c), y.data());
  return y;
}

TEST(NnEval, BlockMatchesTheSeparateLayers) {
  const Case cases[] = {
      {3, 24, 8, 8, 20, true, true, true},     // Winograd, pooled
      {3, 24, 8, 8, 20, true, true, false},    // Winograd
      {2, 32, 2, 2, 16, true, true, true},     // Winograd, one tile per image
      {2, 16, 6, 10, 8, false, false, false},  // Winograd, bias only, not square
      {20, 16, 16, 16, 8, true, true, true},   // Winograd, two shared blocks of images
      {10, 16, 32, 32, 8, true, true, false},  // Winograd, one thread per chunk of images
      {4, 3, 12, 12, 16, true, true, true},    // im2col: too few input channels
      {2, 20, 7, 7, 12, true, true, true},     // im2col: odd size, floor pooling
      {3, 8, 10, 10, 8, true, false, false},   // im2col, batch-norm only
  };
  for (const Case& c : cases) {
    const Data d(shape_of(c), 100 + c.C + c.H);
    const std::vector<float> want = separate_layers(c, d), got = eval_block(c, d);
    EXPECT_LT(relative_error(got, want), 1e-5)
        << c.N << "x" << c.C << "x" << c.H << "x" << c.W << " -> " << c.K << " bn " << c.bn << " relu " << c.relu
        << " pool " << c.pool;
  }
}

TEST(NnEval, BatchNormAffineIsWhatTheEvalLayerApplies) {
  const int C = 5, L = 3;
  const auto x = random_values(C * L, 7), gamma = random_values(C, 8, 0.5f, 2.0f), beta = random_values(C, 9);
  const auto mean = random_values(C, 10), var = random_values(C, 11, 0.1f, 3.0f);
  std::vector<float> y(C * L), scale(C), shift(C);
  cpu::batch_norm_forward_eval(BatchNormShape{1, C, L}, x.data(), gamma.data(), beta.data(), mean.data(), var.data(),
                               1e-5f, y.data());
  cpu::batch_norm_eval_affine(C, gamma.data(), beta.data(), mean.data(), var.data(), 1e-5f, scale.data(),
                              shift.data());
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < L; ++i) EXPECT_FLOAT_EQ(y[c * L + i], x[c * L + i] * scale[c] + shift[c]) << c << " " << i;
}

TEST(NnDeterminism, EvalBlockIsBitIdenticalFor1To3Threads) {
  const Case cases[] = {{20, 16, 16, 16, 24, true, true, true},
                        {10, 16, 32, 32, 8, true, true, true},
                        {9, 3, 12, 12, 16, true, true, false}};
  for (const Case& c : cases) {
    const Data d(shape_of(c), 300);
    std::vector<float> out[3];
    for (int t = 0; t < 3; ++t) with_threads(t + 1, [&] { out[t] = eval_block(c, d); });
    EXPECT_TRUE(same_bits(out[0], out[1])) << "2 threads, C = " << c.C;
    EXPECT_TRUE(same_bits(out[0], out[2])) << "3 threads, C = " << c.C;
  }
}

}  // namespace
}  // namespace sxb::nn
