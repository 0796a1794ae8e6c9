// Convolution kernels of the network engine (kernels/nn/cpu) against direct loops and finite differences.

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


// --- conv2d -----------------------------------------------------------------

Conv2dShape conv_shape(int N, int C, int H, int W, int K, int kh, int kw, int pad, int stride) {
  Conv2dShape s;
  s.batch = N, s.in_channels = C, s.height = H, s.width = W, s.out_channels = K;
  s.kernel_h = kh, s.kernel_w = kw, s.padding = pad, s.stride = stride;
  s.check();
  return s;
}

std::size_t conv_x_size(const Conv2dShape& s) {
  return static_cast<std::size_t>(s.batch) * s.in_channels * s.height * s.width;
}
std::size_t conv_w_size(const Conv2dShape& s) {
  return static_cast<std::size_t>(s.out_channels) * s.in_channels * s.kernel_h * s.kernel_w;
}
std::size_t conv_y_size(const Conv2dShape& s) {
  return static_cast<std::size_t>(s.batch) * s.out_channels * s.out_height() * s.out_width();
}

// Direct convolution, seven nested loops, double accumulation.
std::vector<double> direct_conv(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
                                const float* bias) {
  const int Ho = s.out_height(), Wo = s.out_width();
  std::vector<double> y(conv_y_size(s));
  for (int n = 0; n < s.batch; ++n)
    for (int k = 0; k < s.out_channels; ++k)
      for (int oh = 0; oh < Ho; ++oh)
        for (int ow = 0; ow < Wo; ++ow) {
          double acc = bias ? bias[k] : 0.0;
          for (int c = 0; c < s.in_channels; ++c)
            for (int i = 0; i < s.kernel_h; ++i)
              for (int j = 0; j < s.kernel_w; ++j) {
                const int ih = oh * s.stride - s.padding + i, iw = ow * s.stride - s.padding + j;
                if (ih < 0 || ih >= s.height || iw < 0 || iw >= s.width) continue;
                acc += static_cast<double>(x[((n * s.in_channels + c) * s.height + ih) * s.width + iw]) *
                       w[((k * s.in_channels + c) * s.kernel_h + i) * s.kernel_w + j];
              }
          y[((n * s.out_channels + k) * Ho + oh) * Wo + ow] = acc;
        }
  return y;
}

// dweight[k,c,i,j] = sum over n, oh, ow of dy * x (double).
std::vector<double> direct_conv_dweight(const Conv2dShape& s, const std::vector<float>& x,
                                        const std::vector<float>& dy) {
  const int Ho = s.out_height(), Wo = s.out_width();
  std::vector<double> dw(conv_w_size(s));
  for (int k = 0; k < s.out_channels; ++k)
    for (int c = 0; c < s.in_channels; ++c)
      for (int i = 0; i < s.kernel_h; ++i)
        for (int j = 0; j < s.kernel_w; ++j) {
          double acc = 0.0;
          for (int n = 0; n < s.batch; ++n)
            for (int oh = 0; oh < Ho; ++oh)
              for (int ow = 0; ow < Wo; ++ow) {
                const int ih = oh * s.stride - s.padding + i, iw = ow * s.stride - s.padding + j;
                if (ih < 0 || ih >= s.height || iw < 0 || iw >= s.width) continue;
                acc += static_cast<double>(dy[((n * s.out_channels + k) * Ho + oh) * Wo + ow]) *
                       x[((n * s.in_channels + c) * s.height + ih) * s.width + iw];
              }
          dw[((k * s.in_channels + c) * s.kernel_h + i) * s.kernel_w + j] = acc;
        }
  return dw;
}

TEST(NnConv2d, ForwardMatchesDirectLoops) {
  const Conv2dShape shapes[] = {
      conv_shape(2, 3, 7, 6, 4, 3, 3, 1, 1),  // VGG's 3x3, pad 1, stride 1
      conv_shape(2, 3, 7, 6, 5, 1, 1, 0, 2),  // 1x1, stride 2
      conv_shape(3, 4, 5, 5, 2, 1, 1, 0, 1),  // 1x1, stride 1: the "same" path
      conv_shape(1, 2, 9, 8, 3, 5, 3, 2, 3),  // non-square kernel, pad 2, stride 3
  };
  for (const Conv2dShape& s : shapes) {
    const auto x = random_values(conv_x_size(s), 1), w = random_values(conv_w_size(s), 2);
    const auto b = random_values(static_cast<std::size_t>(s.out_channels), 3);
    std::vector<float> y(conv_y_size(s), std::numeric_limits<float>::quiet_NaN());
    cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    EXPECT_LT(max_relative_error(y, direct_conv(s, x, w, b.data())), 1e-5) << "kernel " << s.kernel_h;
    std::fill(y.begin(), y.end(), std::numeric_limits<float>::quiet_NaN());  // no bias: y fully written
    cpu::conv2d_forward(s, x.data(), w.data(), nullptr, y.data());
    EXPECT_LT(max_relative_error(y, direct_conv(s, x, w, nullptr)), 1e-5) << "kernel " << s.kernel_h;
  }
}

TEST(NnConv2d, BackwardOverSeveralGroupsOfChunksMatchesDirectLoops) {
  // 40 samples of 16x16: 7 groups of three 2-image chunks (the last group two
  // chunks); 9 samples of 6x5 (small maps): whole-batch products.
  for (const Conv2dShape& s : {conv_shape(40, 2, 16, 16, 3, 3, 3, 1, 1), conv_shape(9, 3, 6, 5, 4, 3, 3, 1, 1)}) {
    const auto x = random_values(conv_x_size(s), 4), w = random_values(conv_w_size(s), 5);
    const auto dy = random_values(conv_y_size(s), 6);
    std::vector<float> dw(conv_w_size(s)), dx(x.size()), y(conv_y_size(s));
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);
    EXPECT_LT(max_relative_error(dw, direct_conv_dweight(s, x, dy)), 1e-5) << s.batch << " samples";
    // dx is the adjoint of the (bias-free) forward: <conv(x), dy> = <x, dx>.
    cpu::conv2d_forward(s, x.data(), w.data(), nullptr, y.data());
    const double lhs = weighted_sum(y, dy), rhs = weighted_sum(x, dx);
    EXPECT_NEAR(lhs, rhs, 1e-5 * (std::abs(lhs) + 1.0)) << s.batch << " samples";
  }
}

TEST(NnConv2d, WinogradBackwardMatchesDirectLoops) {
  // 3x3, stride 1, padding 1 with at least 16 channels each way: the
  // Winograd F(2,3) backward. 9 samples of 6x10 (135 tiles): whole-batch
  // products; 20 samples of 16x16 (1,280 tiles): 7 groups of 3 images and
  // one of 2; 9 samples of 64x64: groups of two one-image blocks (the last
  // of one), accumulated by the SGEMMs; 64 channels in and 32 out.
  const Conv2dShape shapes[] = {conv_shape(9, 16, 6, 10, 24, 3, 3, 1, 1), conv_shape(20, 16, 16, 16, 16, 3, 3, 1, 1),
                                conv_shape(9, 16, 64, 64, 16, 3, 3, 1, 1), conv_shape(2, 64, 4, 4, 32, 3, 3, 1, 1)};
  for (const Conv2dShape& s : shapes) {
    const auto x = random_values(conv_x_size(s), 7), w = random_values(conv_w_size(s), 8);
    const auto dy = random_values(conv_y_size(s), 9);
    std::vector<float> dw(conv_w_size(s)), dx(x.size(), std::numeric_limits<float>::quiet_NaN());
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);
    EXPECT_LT(max_relative_error(dw, direct_conv_dweight(s, x, dy)), 1e-5) << s.batch << " samples";
    // dx is the convolution of dy with the flipped, transposed kernels.
    Conv2dShape t = s;
    t.in_channels = s.out_channels, t.out_channels = s.in_channels;
    std::vector<float> flipped(w.size());
    for (int k = 0; k < s.out_channels; ++k)
      for (int c = 0; c < s.in_channels; ++c)
        for (int tap = 0; tap < 9; ++tap)
          flipped[(static_cast<std::size_t>(c) * s.out_channels + k) * 9 + tap] =
              w[(static_cast<std::size_t>(k) * s.in_channels + c) * 9 + 8 - tap];
    EXPECT_LT(max_relative_error(dx, direct_conv(t, dy, flipped, nullptr)), 1e-5) << s.batch << " samples";
  }
  // The forward of a Winograd shape (the training forward, with its bias).
  const Conv2dShape s = conv_shape(3, 16, 8, 6, 20, 3, 3, 1, 1);
  const auto x = random_values(conv_x_size(s), 11), w = random_values(conv_w_size(s), 12);
  const auto b = random_values(static_cast<std::size_t>(s.out_channels), 13);
  std::vector<float> y(conv_y_size(s), std::numeric_limits<float>::quiet_NaN());
  cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
  EXPECT_LT(max_relative_error(y, direct_conv(s, x, w, b.data())), 1e-5);
}

void check_conv_gradients(const Conv2dShape& s, std::uint64_t seed) {
  auto x = random_values(conv_x_size(s), seed), w = random_values(conv_w_size(s), seed + 1);
  auto b = random_values(static_cast<std::size_t>(s.out_channels), seed + 2);
  const auto r = random_values(conv_y_size(s), seed + 3);
  std::vector<float> y(conv_y_size(s)), dx(x.size()), dw(w.size()), db(b.size());
  cpu::conv2d_backward(s, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data());
  auto objective = [&] {
    cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    return weighted_sum(y, r);
  };
  EXPECT_LT(gradient_error(x, dx, kStep, objective), kGradTol) << "dx";
  EXPECT_LT(gradient_error(w, dw, kStep, objective), kGradTol) << "dweight";
  EXPECT_LT(gradient_error(b, db, kStep, objective), kGradTol) << "dbias";
}

TEST(NnConv2d, GradientsMatchFiniteDifferences3x3Pad1) {
  check_conv_gradients(conv_shape(2, 3, 5, 5, 4, 3, 3, 1, 1), 10);
}
TEST(NnConv2d, GradientsMatchFiniteDifferences3x3Winograd) {
  check_conv_gradients(conv_shape(2, 16, 4, 6, 16, 3, 3, 1, 1), 50);
}
TEST(NnConv2d, GradientsMatchFiniteDifferences1x1Stride2) {
  check_conv_gradients(conv_shape(2, 3, 6, 5, 2, 1, 1, 0, 2), 20);
}
TEST(NnConv2d, GradientsMatchFiniteDifferences1x1Pointwise) {
  check_conv_gradients(conv_shape(2, 3, 4, 3, 2, 1, 1, 0, 1), 30);
}
TEST(NnConv2d, GradientsMatchFiniteDifferences3x3Stride2) {
  check_conv_gradients(conv_shape(1, 2, 7, 6, 3, 3, 3, 1, 2), 40);
}

// --- determinism over thread counts ------------------------------------------------

TEST(NnDeterminism, ConvBackwardIsBitIdenticalFor1To3Threads) {
  // 9 samples of 16x16: 5 groups of one 2-image chunk; 40 samples of 16x16
  // with 4 channels: 7 groups of three chunks (the last of two), whose weight
  // gradients are accumulated by the SGEMMs; 3x3 with stride 2 and no padding:
  // the general (not "same") im2col, and whole-batch products in blocks.
  // The Winograd shapes: 9 samples of 16x16 with 16 and 32 channels
  // (whole-batch weight gradient), 20 samples of 16x16 (8 groups, added in
  // order) and 3 samples of 64x64 with 16 channels (groups of one image).
  const Conv2dShape shapes[] = {conv_shape(9, 16, 16, 16, 32, 3, 3, 1, 1), conv_shape(40, 4, 16, 16, 8, 3, 3, 1, 1),
                                conv_shape(6, 3, 9, 9, 5, 3, 3, 0, 2), conv_shape(20, 16, 16, 16, 16, 3, 3, 1, 1),
                                conv_shape(3, 16, 64, 64, 16, 3, 3, 1, 1)};
  for (const Conv2dShape& s : shapes) {
    const auto x = random_values(conv_x_size(s), 150), w = random_values(conv_w_size(s), 151);
    const auto b = random_values(s.out_channels, 152), dy = random_values(conv_y_size(s), 153);
    std::vector<float> y[3], dx[3], dw[3], db[3];
    for (int t = 0; t < 3; ++t) {
      y[t].resize(conv_y_size(s)), dx[t].resize(x.size()), dw[t].resize(w.size()), db[t].resize(s.out_channels);
      with_threads(t + 1, [&] {
        cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y[t].data());
        cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx[t].data(), dw[t].data(), db[t].data());
      });
    }
    for (int t = 1; t < 3; ++t) {
      EXPECT_TRUE(same_bits(y[0], y[t])) << s.batch << " samples, " << t + 1 << " threads: y";
      EXPECT_TRUE(same_bits(dx[0], dx[t])) << s.batch << " samples, " << t + 1 << " threads: dx";
      EXPECT_TRUE(same_bits(dw[0], dw[t])) << s.batch << " samples, " << t + 1 << " threads: dweight";
      EXPECT_TRUE(same_bits(db[0], db[t])) << s.batch << " samples, " << t + 1 << " threads: dbias";
    }
  }
}

}  // namespace
}  // namespace sxb::nn
