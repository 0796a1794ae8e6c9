// CPU neural-network layer kernels: forward passes against plain loops,
// backward passes against central finite differences of the scalar
// objective sum(y * r) (accumulated in double), SGD against hand-computed
// steps, dropout mask properties, and bit-identical results for 1, 2 and 3
// OpenMP threads.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/nn/layers.h"
#include "tests/support/random_values.h"

#include "tests/support/nn_checks.h"

namespace sxb::nn {
namespace {

using namespace test_support;  // random_values, gradient checks, with_threads


// --- batch_norm -------------------------------------------------------------

TEST(NnBatchNorm, TrainForwardNormalisesAndUpdatesRunningStatsWithUnbiasedVariance) {
  BatchNormShape s{4, 3, 5};
  s.check(true);
  const std::size_t n = 4 * 3 * 5;
  const auto x = random_values(n, 50, -2.0f, 3.0f);
  const auto gamma = random_values(3, 51, 0.5f, 1.5f), beta = random_values(3, 52);
  std::vector<float> running_mean = {0.1f, -0.2f, 0.3f}, running_var = {1.0f, 2.0f, 0.5f};
  const auto rm0 = running_mean, rv0 = running_var;
  std::vector<float> y(n), mean(3), inv_std(3);
  cpu::batch_norm_forward_train(s, x.data(), gamma.data(), beta.data(), 1e-5f, 0.1f, running_mean.data(),
                                running_var.data(), y.data(), mean.data(), inv_std.data());
  for (int c = 0; c < 3; ++c) {
    double sum = 0.0, squares = 0.0;
    for (int b = 0; b < 4; ++b)
      for (int i = 0; i < 5; ++i) sum += x[(b * 3 + c) * 5 + i];
    const double mu = sum / 20;
    for (int b = 0; b < 4; ++b)
      for (int i = 0; i < 5; ++i) squares += (x[(b * 3 + c) * 5 + i] - mu) * (x[(b * 3 + c) * 5 + i] - mu);
    const double var = squares / 20;
    EXPECT_NEAR(mean[c], mu, 1e-6);
    EXPECT_NEAR(inv_std[c], 1.0 / std::sqrt(var + 1e-5), 1e-5);
    EXPECT_NEAR(running_mean[c], 0.9 * rm0[c] + 0.1 * mu, 1e-6);
    EXPECT_NEAR(running_var[c], 0.9 * rv0[c] + 0.1 * var * 20 / 19, 1e-6);  // unbiased
    for (int b = 0; b < 4; ++b)
      for (int i = 0; i < 5; ++i) {
        const std::size_t k = (b * 3 + c) * 5 + i;
        EXPECT_NEAR(y[k], (x[k] - mu) / std::sqrt(var + 1e-5) * gamma[c] + beta[c], 1e-5);
      }
  }
  // In place gives the same bits.
  auto in_place = x;
  cpu::batch_norm_forward_train(s, in_place.data(), gamma.data(), beta.data(), 1e-5f, 0.1f, nullptr, nullptr,
                                in_place.data(), mean.data(), inv_std.data());
  EXPECT_TRUE(same_bits(in_place, y));
}

TEST(NnBatchNorm, EvalForwardUsesRunningStats) {
  const BatchNormShape s{2, 2, 3};
  const auto x = random_values(12, 60);
  const std::vector<float> gamma = {1.5f, 0.5f}, beta = {0.25f, -1.0f};
  const std::vector<float> running_mean = {0.2f, -0.4f}, running_var = {0.9f, 2.5f};
  std::vector<float> y(12);
  cpu::batch_norm_forward_eval(s, x.data(), gamma.data(), beta.data(), running_mean.data(), running_var.data(),
                               1e-5f, y.data());
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 3; ++i) {
        const std::size_t k = (b * 2 + c) * 3 + i;
        EXPECT_NEAR(y[k], (x[k] - running_mean[c]) / std::sqrt(running_var[c] + 1e-5) * gamma[c] + beta[c], 1e-6);
      }
}

TEST(NnBatchNorm, TrainGradientsMatchFiniteDifferences) {
  const BatchNormShape s{3, 2, 4};
  const std::size_t n = 3 * 2 * 4;
  auto x = random_values(n, 70, -1.0f, 2.0f);
  auto gamma = random_values(2, 71, 0.5f, 1.5f), beta = random_values(2, 72);
  const auto r = random_values(n, 73);
  std::vector<float> y(n), mean(2), inv_std(2), dx(n), dgamma(2), dbeta(2);
  auto objective = [&] {
    cpu::batch_norm_forward_train(s, x.data(), gamma.data(), beta.data(), 1e-5f, 0.1f, nullptr, nullptr, y.data(),
                                  mean.data(), inv_std.data());
    return weighted_sum(y, r);
  };
  objective();
  cpu::batch_norm_backward(s, x.data(), gamma.data(), mean.data(), inv_std.data(), r.data(), dx.data(),
                           dgamma.data(), dbeta.data());
  EXPECT_LT(gradient_error(x, dx, kStep, objective), kGradTol) << "dx";
  EXPECT_LT(gradient_error(gamma, dgamma, kStep, objective), kGradTol) << "dgamma";
  EXPECT_LT(gradient_error(beta, dbeta, kStep, objective), kGradTol) << "dbeta";
}

// --- relu ---------------------------------------------------------------------

TEST(NnRelu, ForwardAndGradient) {
  // Inputs at least 0.1 away from the kink, so the +-0.01 differences never cross it.
  auto x = random_values(40, 80, 0.1f, 1.0f);
  for (std::size_t i = 0; i < x.size(); i += 2) x[i] = -x[i];
  const auto r = random_values(40, 81);
  std::vector<float> y(40), dx(40);
  cpu::relu_forward(40, x.data(), y.data());
  for (std::size_t i = 0; i < 40; ++i) EXPECT_EQ(y[i], std::max(x[i], 0.0f));
  cpu::relu_backward(40, y.data(), r.data(), dx.data());
  auto objective = [&] {
    cpu::relu_forward(40, x.data(), y.data());
    return weighted_sum(y, r);
  };
  EXPECT_LT(gradient_error(x, dx, kStep, objective), kGradTol);
  // Zero gradient at exactly 0, and in place.
  std::vector<float> at_zero = {0.0f, -0.0f}, g = {3.0f, 4.0f};
  cpu::relu_backward(2, at_zero.data(), g.data(), g.data());
  EXPECT_EQ(g[0], 0.0f);
  EXPECT_EQ(g[1], 0.0f);
}

// --- max_pool -------------------------------------------------------------------

TEST(NnMaxPool, GradientMatchesFiniteDifferencesAndOddEdgeIsDropped) {
  const PoolShape s{2, 2, 5, 4};  // odd height: the last row is not pooled
  s.check();
  const std::size_t n = 2 * 2 * 5 * 4, m = 2 * 2 * 2 * 2;
  // Distinct values 0.1 apart (shuffled): no tie is crossed by a +-0.01 step.
  std::vector<float> x(n);
  std::iota(x.begin(), x.end(), 0.0f);
  std::shuffle(x.begin(), x.end(), std::mt19937_64(90));
  for (float& v : x) v *= 0.1f;
  const auto r = random_values(m, 91);
  std::vector<float> y(m), dx(n);
  std::vector<std::int32_t> argmax(m);
  cpu::max_pool2x2_forward(s, x.data(), y.data(), argmax.data());
  for (std::size_t p = 0; p < 4; ++p)
    for (int oh = 0; oh < 2; ++oh)
      for (int ow = 0; ow < 2; ++ow) {
        const float* plane = x.data() + p * 20;
        const float best = std::max({plane[2 * oh * 4 + 2 * ow], plane[2 * oh * 4 + 2 * ow + 1],
                                     plane[(2 * oh + 1) * 4 + 2 * ow], plane[(2 * oh + 1) * 4 + 2 * ow + 1]});
        EXPECT_EQ(y[p * 4 + oh * 2 + ow], best);
        EXPECT_EQ(plane[argmax[p * 4 + oh * 2 + ow]], best);
      }
  cpu::max_pool2x2_backward(s, r.data(), argmax.data(), dx.data());
  for (std::size_t p = 0; p < 4; ++p)
    for (int w = 0; w < 4; ++w) EXPECT_EQ(dx[p * 20 + 4 * 4 + w], 0.0f);  // dropped row
  auto objective = [&] {
    cpu::max_pool2x2_forward(s, x.data(), y.data(), argmax.data());
    return weighted_sum(y, r);
  };
  EXPECT_LT(gradient_error(x, dx, kStep, objective), kGradTol);
}

TEST(NnMaxPool, TiesGoToTheFirstElementInRowMajorOrderAndNaNPropagates) {
  const PoolShape s{1, 3, 2, 2};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {5, 5, 5, 5,     // all equal -> top-left (0)
                                1, 2, 2, 0,     // top-right and bottom-left tie -> top-right (1)
                                1, nan, 3, 2};  // NaN wins
  std::vector<float> y(3);
  std::vector<std::int32_t> argmax(3);
  cpu::max_pool2x2_forward(s, x.data(), y.data(), argmax.data());
  EXPECT_EQ(argmax[0], 0);
  EXPECT_EQ(argmax[1], 1);
  EXPECT_EQ(y[1], 2.0f);
  EXPECT_EQ(argmax[2], 1);
  EXPECT_TRUE(std::isnan(y[2]));
}

// --- linear -----------------------------------------------------------------

TEST(NnLinear, ForwardAndWeightGradientOverSeveralChunksMatchLoops) {
  const LinearShape s{70, 6, 5};  // 70 rows: batch chunks of 32, 32, 6
  s.check();
  const auto x = random_values(70 * 6, 100), w = random_values(5 * 6, 101), b = random_values(5, 102);
  const auto dy = random_values(70 * 5, 103);
  std::vector<float> y(70 * 5), dw(30), db(5), dx(70 * 6);
  cpu::linear_forward(s, x.data(), w.data(), b.data(), y.data());
  cpu::linear_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  std::vector<double> y_ref(70 * 5), dw_ref(30, 0.0), db_ref(5, 0.0), dx_ref(70 * 6, 0.0);
  for (int n = 0; n < 70; ++n)
    for (int o = 0; o < 5; ++o) {
      double acc = b[o];
      for (int i = 0; i < 6; ++i) {
        acc += static_cast<double>(x[n * 6 + i]) * w[o * 6 + i];
        dw_ref[o * 6 + i] += static_cast<double>(dy[n * 5 + o]) * x[n * 6 + i];
        dx_ref[n * 6 + i] += static_cast<double>(dy[n * 5 + o]) * w[o * 6 + i];
      }
      y_ref[n * 5 + o] = acc;
      db_ref[o] += dy[n * 5 + o];
    }
  EXPECT_LT(max_relative_error(y, y_ref), 1e-5);
  EXPECT_LT(max_relative_error(dw, dw_ref), 1e-5);
  EXPECT_LT(max_relative_error(db, db_ref), 1e-5);
  EXPECT_LT(max_relative_error(dx, dx_ref), 1e-5);
}

TEST(NnLinear, GradientsMatchFiniteDifferences) {
  const LinearShape s{3, 5, 4};
  auto x = random_values(15, 110), w = random_values(20, 111), b = random_values(4, 112);
  const auto r = random_values(12, 113);
  std::vector<float> y(12), dx(15), dw(20), db(4);
  cpu::linear_backward(s, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data());
  auto objective = [&] {
    cpu::linear_forward(s, x.data(), w.data(), b.data(), y.data());
    return weighted_sum(y, r);
  };
  EXPECT_LT(gradient_error(x, dx, kStep, objective), kGradTol) << "dx";
  EXPECT_LT(gradient_error(w, dw, kStep, objective), kGradTol) << "dweight";
  EXPECT_LT(gradient_error(b, db, kStep, objective), kGradTol) << "dbias";
}

// --- dropout ----------------------------------------------------------------

TEST(NnDropout, SameSeedSameMaskKeepRateAndScale) {
  const std::size_t n = 200000;
  const float p = 0.3f;
  const std::vector<float> ones(n, 1.0f);
  std::vector<float> a(n), b(n), c(n);
  cpu::dropout_forward(n, p, 7, 3, ones.data(), a.data());
  cpu::dropout_forward(n, p, 7, 3, ones.data(), b.data());
  cpu::dropout_forward(n, p, 7, 4, ones.data(), c.data());
  EXPECT_TRUE(same_bits(a, b));
  EXPECT_FALSE(same_bits(a, c));  // another step draws another mask
  const float scale = 1.0f / (1.0f - p);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(a[i] == 0.0f || a[i] == scale) << i;
    kept += a[i] != 0.0f;
    ASSERT_EQ(a[i] != 0.0f, dropout_keeps(7, 3, i, p)) << i;
  }
  // Binomial: standard deviation sqrt(0.21 / n) ~ 0.001.
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.7, 0.005);
  // Backward regenerates the forward mask.
  std::vector<float> dx(n);
  cpu::dropout_backward(n, p, 7, 3, ones.data(), dx.data());
  EXPECT_TRUE(same_bits(dx, a));
  // p = 0 is the identity, p = 1 drops everything.
  const auto x = random_values(100, 120);
  std::vector<float> y(100);
  cpu::dropout_forward(100, 0.0f, 1, 1, x.data(), y.data());
  EXPECT_TRUE(same_bits(x, y));
  cpu::dropout_forward(100, 1.0f, 1, 1, x.data(), y.data());
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.0f; }));
}

TEST(NnDropout, GradientMatchesFiniteDifferences) {
  auto x = random_values(50, 130);
  const auto r = random_values(50, 131);
  std::vector<float> y(50), dx(50);
  cpu::dropout_backward(50, 0.4f, 11, 2, r.data(), dx.data());
  auto objective = [&] {
    cpu::dropout_forward(50, 0.4f, 11, 2, x.data(), y.data());
    return weighted_sum(y, r);
  };
  EXPECT_LT(gradient_error(x, dx, kStep, objective), kGradTol);
}

// --- softmax cross-entropy ------------------------------------------------------

TEST(NnLoss, GradientMatchesFiniteDifferences) {
  const int N = 4, K = 5;
  auto logits = random_values(N * K, 140, -2.0f, 2.0f);
  const std::vector<int> labels = {0, 3, 4, 1};
  std::vector<float> dlogits(N * K);
  cpu::softmax_cross_entropy(N, K, logits.data(), labels.data(), dlogits.data());
  auto objective = [&] { return cpu::softmax_cross_entropy(N, K, logits.data(), labels.data(), nullptr).loss; };
  EXPECT_LT(gradient_error(logits, dlogits, 1e-3, objective), kGradTol);
}

TEST(NnLoss, ValuesCorrectCountAndStability) {
  // Uniform logits: loss log(K); ties go to the first class.
  const std::vector<float> uniform(2 * 4, 0.5f);
  const std::vector<int> labels = {0, 2};
  const LossResult u = cpu::softmax_cross_entropy(2, 4, uniform.data(), labels.data(), nullptr);
  EXPECT_NEAR(u.loss, std::log(4.0), 1e-12);
  EXPECT_EQ(u.correct, 1);
  // Huge logits stay finite (log-sum-exp); the confident right answer costs ~0,
  // the confident wrong one its logit gap.
  const std::vector<float> huge = {1e4f, 0.0f, -1e4f, 0.0f, 3e4f, 1e4f};
  const std::vector<int> huge_labels = {0, 2};
  std::vector<float> d(6);
  const LossResult h = cpu::softmax_cross_entropy(2, 3, huge.data(), huge_labels.data(), d.data());
  EXPECT_NEAR(h.loss, (0.0 + 2e4) / 2, 1e-6);
  EXPECT_EQ(h.correct, 1);
  for (float v : d) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(d[4], 0.5, 1e-6);   // softmax 1 at class 1, over N = 2
  EXPECT_NEAR(d[5], -0.5, 1e-6);  // true class 2: (0 - 1) / 2
}

// --- SGD ----------------------------------------------------------------------

// Two steps with a constant gradient 0.5 from p = 1, lr 0.1, momentum 0.9:
//  plain:     buf 0.5, p 0.95;      buf 0.95, p 0.855
//  nesterov:  buf 0.5, p 0.905;     buf 0.95, p 0.905 - 0.1 (0.5 + 0.855) = 0.7695
//  wd 0.1:    d 0.6, buf 0.6, p 0.94;  d 0.594, buf 1.134, p 0.8266
//  momentum 0, wd 0.1: d 0.6, p 0.94;  d 0.594, p 0.8806
TEST(NnSgd, TwoStepsMatchHandComputedValues) {
  struct Case {
    SgdParams params;
    float p1, p2;
  };
  const Case cases[] = {
      {{0.1f, 0.9f, 0.0f, false}, 0.95f, 0.855f},
      {{0.1f, 0.9f, 0.0f, true}, 0.905f, 0.7695f},
      {{0.1f, 0.9f, 0.1f, false}, 0.94f, 0.8266f},
      {{0.1f, 0.0f, 0.1f, false}, 0.94f, 0.8806f},
  };
  for (const Case& c : cases) {
    float p = 1.0f, g = 0.5f, buf = 0.0f;
    cpu::sgd_step(1, c.params, &p, &g, c.params.momentum != 0.0f ? &buf : nullptr, nullptr);
    EXPECT_NEAR(p, c.p1, 1e-6) << "nesterov " << c.params.nesterov << " wd " << c.params.weight_decay;
    EXPECT_EQ(g, 0.5f);  // weight decay does not touch the gradient
    cpu::sgd_step(1, c.params, &p, &g, c.params.momentum != 0.0f ? &buf : nullptr, nullptr);
    EXPECT_NEAR(p, c.p2, 1e-6) << "nesterov " << c.params.nesterov << " wd " << c.params.weight_decay;
  }
}

TEST(NnSgd, MaskZeroesWeightGradientAndMomentum) {
  std::vector<float> p = {1.0f, 2.0f, -3.0f}, g = {0.5f, 0.5f, 0.5f}, buf = {0.7f, 0.7f, 0.7f};
  const std::vector<std::uint8_t> mask = {1, 0, 1};
  const SgdParams params{0.1f, 0.9f, 0.0f, false};
  cpu::sgd_step(3, params, p.data(), g.data(), buf.data(), mask.data());
  EXPECT_EQ(p[1], 0.0f);
  EXPECT_EQ(g[1], 0.0f);
  EXPECT_EQ(buf[1], 0.0f);
  EXPECT_NEAR(buf[0], 0.9f * 0.7f + 0.5f, 1e-6);
  EXPECT_NEAR(p[0], 1.0f - 0.1f * (0.9f * 0.7f + 0.5f), 1e-6);
  EXPECT_NEAR(p[2], -3.0f - 0.1f * (0.9f * 0.7f + 0.5f), 1e-6);
  cpu::sgd_step(3, params, p.data(), g.data(), buf.data(), mask.data());  // stays exactly 0
  EXPECT_EQ(p[1], 0.0f);
  EXPECT_EQ(buf[1], 0.0f);
}

// --- determinism over thread counts ------------------------------------------------

TEST(NnDeterminism, BatchNormAndLinearAreBitIdenticalFor1To3Threads) {
  const BatchNormShape s{16, 8, 64};
  const std::size_t n = 16 * 8 * 64;
  const auto x = random_values(n, 160), dy = random_values(n, 161);
  const auto gamma = random_values(8, 162, 0.5f, 1.5f), beta = random_values(8, 163);
  const LinearShape ls{100, 64, 48};
  const auto lx = random_values(100 * 64, 164), lw = random_values(48 * 64, 165), ldy = random_values(100 * 48, 166);
  std::vector<float> out[3][5];
  for (int t = 0; t < 3; ++t) {
    auto& [y, dx, dgb, ldw, ldx] = out[t];
    y.resize(n), dx.resize(n), dgb.resize(16), ldw.resize(48 * 64), ldx.resize(100 * 64);
    std::vector<float> mean(8), inv_std(8), running_mean(8, 0.0f), running_var(8, 1.0f);
    with_threads(t + 1, [&] {
      cpu::batch_norm_forward_train(s, x.data(), gamma.data(), beta.data(), 1e-5f, 0.1f, running_mean.data(),
                                    running_var.data(), y.data(), mean.data(), inv_std.data());
      cpu::batch_norm_backward(s, x.data(), gamma.data(), mean.data(), inv_std.data(), dy.data(), dx.data(),
                               dgb.data(), dgb.data() + 8);
      cpu::linear_backward(ls, lx.data(), lw.data(), ldy.data(), ldx.data(), ldw.data(), nullptr);
    });
  }
  const char* names[5] = {"bn y", "bn dx", "bn dgamma/dbeta", "linear dweight", "linear dx"};
  for (int t = 1; t < 3; ++t)
    for (int k = 0; k < 5; ++k) EXPECT_TRUE(same_bits(out[0][k], out[t][k])) << t + 1 << " threads: " << names[k];
}

}  // namespace
}  // namespace sxb::nn
