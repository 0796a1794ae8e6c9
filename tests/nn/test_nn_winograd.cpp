// The Winograd F(2,3) training kernels (forward, input gradient, weight
// gradient) on every 3x3 layer shape of VGG11 and VGG16 at width 0.25 and 1.0,
// against a double-precision direct reference and against im2col + SGEMM:
// errors at float-rounding level, with no systematic scale error, on data
// shaped like training's (inputs after a ReLU, zero-mean output gradients).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "engine/data/synthetic.h"
#include "engine/training/train.h"
#include "kernels/nn/cpu/conv_epilogue.h"
#include "kernels/nn/layers.h"
#include "models/nn_backend.h"

namespace sxb::nn {
namespace {

// Restores the training-path setting at the end of a scope.
struct WinogradTrainingScope {
  bool before = cpu::winograd_training();
  explicit WinogradTrainingScope(bool on) { cpu::set_winograd_training(on); }
  ~WinogradTrainingScope() { cpu::set_winograd_training(before); }
};

Conv2dShape layer(int N, int C, int K, int HW) {
  Conv2dShape s;
  s.batch = N, s.in_channels = C, s.out_channels = K, s.height = s.width = HW;
  s.kernel_h = s.kernel_w = 3, s.padding = 1, s.stride = 1;
  return s;
}

// The distinct (C, K, map size) of the 3x3 layers of VGG11 and VGG16 after the
// first (3 input channels: im2col), channels c -> round(c * width).
std::vector<std::tuple<int, int, int>> vgg_layers(double width) {
  const std::vector<std::vector<int>> cfgs = {{64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512},
                                              {64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1,
                                               512, 512, 512}};
  std::set<std::tuple<int, int, int>> out;
  for (const auto& cfg : cfgs) {
    int in = 0, hw = 32;
    for (int v : cfg) {
      if (v < 0) {
        hw /= 2;
        continue;
      }
      const int c = static_cast<int>(std::lround(v * width));
      if (in > 0) out.insert({in, c, hw});
      in = c;
    }
  }
  return {out.begin(), out.end()};
}

struct Reference {
  std::vector<double> y, dx, dw;
};

// Direct loops in double: y (with bias), dx, dweight.
Reference direct(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
                 const std::vector<float>& b, const std::vector<float>& dy) {
  const int N = s.batch, C = s.in_channels, K = s.out_channels, H = s.height, W = s.width;
  const std::size_t plane = static_cast<std::size_t>(H) * W;
  Reference r{std::vector<double>(dy.size()), std::vector<double>(x.size()), std::vector<double>(w.size())};
  const auto taps = [&](int i, int j, auto&& f) {  // f(output index, input index) over the valid positions
    for (int oh = std::max(0, 1 - i); oh < std::min(H, H + 1 - i); ++oh)
      for (int ow = std::max(0, 1 - j); ow < std::min(W, W + 1 - j); ++ow)
        f(static_cast<std::size_t>(oh) * W + ow, static_cast<std::size_t>(oh - 1 + i) * W + (ow - 1 + j));
  };
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < K; ++k) {
      double* y = r.y.data() + (static_cast<std::size_t>(n) * K + k) * plane;
      std::fill(y, y + plane, static_cast<double>(b[k]));
      for (int c = 0; c < C; ++c) {
        const float* xp = x.data() + (static_cast<std::size_t>(n) * C + c) * plane;
        const float* wp = w.data() + (static_cast<std::size_t>(k) * C + c) * 9;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) taps(i, j, [&](std::size_t o, std::size_t in) { y[o] += double(wp[3 * i + j]) * xp[in]; });
      }
    }
    for (int c = 0; c < C; ++c) {
      double* dx = r.dx.data() + (static_cast<std::size_t>(n) * C + c) * plane;
      for (int k = 0; k < K; ++k) {
        const float* g = dy.data() + (static_cast<std::size_t>(n) * K + k) * plane;
        const float* wp = w.data() + (static_cast<std::size_t>(k) * C + c) * 9;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) taps(i, j, [&](std::size_t o, std::size_t in) { dx[in] += double(wp[3 * i + j]) * g[o]; });
      }
    }
  }
#pragma omp parallel for schedule(static)
  for (int k = 0; k < K; ++k)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
          double acc = 0.0;
          for (int n = 0; n < N; ++n) {
            const float* xp = x.data() + (static_cast<std::size_t>(n) * C + c) * plane;
            const float* g = dy.data() + (static_cast<std::size_t>(n) * K + k) * plane;
            taps(i, j, [&](std::size_t o, std::size_t in) { acc += double(g[o]) * xp[in]; });
          }
          r.dw[(static_cast<std::size_t>(k) * C + c) * 9 + 3 * i + j] = acc;
        }
  return r;
}

// Errors of `got` against `ref`, relative to ref's root mean square (rms) and
// maximum (max), and the systematic part: the least-squares scale error
// <got - ref, ref> / <ref, ref>.
struct Errors {
  double rms, max, scale;
};
Errors errors(const std::vector<float>& got, const std::vector<double>& ref) {
  double e2 = 0, r2 = 0, er = 0, emax = 0, rmax = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double e = got[i] - ref[i];
    e2 += e * e, r2 += ref[i] * ref[i], er += e * ref[i];
    emax = std::max(emax, std::abs(e)), rmax = std::max(rmax, std::abs(ref[i]));
  }
  return {std::sqrt(e2 / r2), emax / rmax, er / r2};
}

struct Outputs {
  std::vector<float> y, dx, dw;
};
Outputs run(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
            const std::vector<float>& b, const std::vector<float>& dy, bool winograd) {
  const WinogradTrainingScope scope(winograd);
  Outputs o{std::vector<float>(dy.size()), std::vector<float>(x.size()), std::vector<float>(w.size())};
  std::vector<float> db(b.size());
  cpu::conv2d_forward(s, x.data(), w.data(), b.data(), o.y.data());
  cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), o.dx.data(), o.dw.data(), db.data());
  return o;
}

void check_layer(const Conv2dShape& s, std::uint64_t seed) {
  ASSERT_TRUE(cpu::winograd_backward_applies(s));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(s.batch) * s.in_channels * s.height * s.width);
  std::vector<float> w(static_cast<std::size_t>(s.out_channels) * s.in_channels * 9), b(s.out_channels);
  std::vector<float> dy(static_cast<std::size_t>(s.batch) * s.out_channels * s.height * s.width);
  for (float& v : x) v = std::max(0.0f, normal(rng) + 0.3f);  // after a ReLU: positive mean, zeros
  const float bound = 1.0f / std::sqrt(9.0f * s.in_channels);
  for (float& v : w) v = bound * normal(rng);
  for (float& v : b) v = bound * normal(rng);
  for (float& v : dy) v = 1e-3f * normal(rng);
  const Reference ref = direct(s, x, w, b, dy);
  const Outputs wino = run(s, x, w, b, dy, true), gemm = run(s, x, w, b, dy, false);
  const std::string at = "N " + std::to_string(s.batch) + ", C " + std::to_string(s.in_channels) + ", K " +
                         std::to_string(s.out_channels) + ", " + std::to_string(s.height) + "x" +
                         std::to_string(s.width);
  const auto expect = [&](const char* what, const std::vector<float>& a, const std::vector<float>& g,
                          const std::vector<double>& r) {
    const Errors e = errors(a, r), base = errors(g, r);
    // Float rounding: about 1e-7 relative; Winograd may be a few times im2col's.
    EXPECT_LT(e.rms, 1e-6) << what << ", " << at;
    EXPECT_LT(e.max, 5e-6) << what << ", " << at;
    EXPECT_LT(e.rms, 4.0 * base.rms + 1e-7) << what << ", " << at << " (im2col rms " << base.rms << ")";
    // No systematic shrinking or growth: the part of the error along the
    // result is a small share of an error that is itself float rounding. (It
    // is not rms / sqrt(n): the rounding of each transformed kernel is shared
    // by all the tiles, as a perturbation of the weights would be.)
    EXPECT_LT(std::abs(e.scale), 0.25 * e.rms) << what << ", " << at;
  };
  expect("y", wino.y, gemm.y, ref.y);
  expect("dx", wino.dx, gemm.dx, ref.dx);
  expect("dweight", wino.dw, gemm.dw, ref.dw);
}

TEST(NnWinograd, Vgg025LayersMatchDoubleReferenceAtBatch1And3And128) {
  std::uint64_t seed = 1;
  for (const auto& [C, K, hw] : vgg_layers(0.25))
    for (int N : {1, 3, 128}) check_layer(layer(N, C, K, hw), seed++);
}

TEST(NnWinograd, Vgg1LayersMatchDoubleReferenceAtBatch1And3) {
  std::uint64_t seed = 100;
  for (const auto& [C, K, hw] : vgg_layers(1.0))
    for (int N : {1, 3}) check_layer(layer(N, C, K, hw), seed++);
  // The 2x2 maps of width 1.0 at batch 128 (whole-batch products).
  check_layer(layer(128, 512, 512, 2), seed++);
}

// A few full training steps of VGG11 width 0.25 (every 3x3 layer after the
// first on Winograd): the step losses and the final weights of the two paths
// agree to the drift that float rounding starts.
struct Trained {
  std::vector<double> losses;
  std::vector<std::vector<float>> initial, weights;
};
Trained train_steps(bool winograd) {
  const WinogradTrainingScope scope(winograd);
  TrainConfig c;
  c.model = "vgg11";
  c.width = 0.25;
  c.data = "synthetic:384";
  c.epochs = 1;
  c.batch = 64;  // 6 steps
  c.seed = 5;
  c.out = testing::TempDir() + "/winograd-steps-" + (winograd ? "on" : "off") + ".safetensors";
  const Dataset train_set = make_synthetic(384, 10), test_set = make_synthetic(16, 11);
  auto backend = make_cpu_backend();
  Trained t;
  TrainHooks hooks;
  hooks.log = [](const std::string&) {};
  hooks.on_model = [&](Vgg& model) {
    for (const Parameter* p : model.parameters()) {
      const float* v = p->value.data<float>();
      t.initial.emplace_back(v, v + p->value.numel());
    }
  };
  hooks.after_step = [&](Vgg&, const StepInfo& info) { t.losses.push_back(info.loss); };
  const TrainResult r = train(c, train_set, test_set, *backend, hooks);
  for (const Parameter* p : r.model->parameters()) {
    const float* v = p->value.data<float>();
    t.weights.emplace_back(v, v + p->value.numel());
  }
  return t;
}

TEST(NnWinograd, TrainingStepsMatchIm2col) {
  const Trained wino = train_steps(true), gemm = train_steps(false);
  ASSERT_EQ(wino.losses.size(), 6u);
  ASSERT_EQ(gemm.losses.size(), 6u);
  for (std::size_t i = 0; i < wino.losses.size(); ++i)
    EXPECT_NEAR(wino.losses[i], gemm.losses[i], 1e-5 * gemm.losses[i]) << "step " << i + 1;
  ASSERT_EQ(wino.weights.size(), gemm.weights.size());
  ASSERT_EQ(wino.initial, gemm.initial) << "the two runs start from the same weights";
  // Measured on the update the six steps made (w - w0), the scale on which a
  // wrong gradient would show; the weights themselves hide it under w0.
  double worst = 0.0, moved = 1.0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < wino.weights.size(); ++i) {
    double d2 = 0.0, u2 = 0.0, w2 = 0.0;
    for (std::size_t j = 0; j < gemm.weights[i].size(); ++j) {
      const double u = double(gemm.weights[i][j]) - gemm.initial[i][j];
      const double d = double(wino.weights[i][j]) - gemm.weights[i][j];
      d2 += d * d, u2 += u * u, w2 += double(gemm.weights[i][j]) * gemm.weights[i][j];
    }
    if (u2 == 0.0) continue;
    if (std::sqrt(d2 / u2) > worst) worst = std::sqrt(d2 / u2), worst_at = i, moved = std::sqrt(u2 / w2);
  }
  // Six steps near chance loss (gradients of one sign cancel) amplify the
  // float rounding of the products; a wrong gradient term would differ by a
  // sizeable share of the update, not by a few percent.
  EXPECT_LT(worst, 0.02) << "largest relative difference of a parameter tensor's update after 6 steps (tensor "
                         << worst_at << ")";
  std::printf("6 steps: largest relative difference of an update %.2e (tensor %zu, moved %.2e of its norm), "
              "losses %.7f / %.7f at step 6\n",
              worst, worst_at, moved, wino.losses.back(), gemm.losses.back());
}

}  // namespace
}  // namespace sxb::nn
