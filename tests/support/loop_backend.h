// A network backend of plain loops, the oracle of the backend table
// (tests/support/nn_backends.h): every layer operation of models/nn_backend.h
// written out from its definition in kernels/nn/layers.h, one element at a
// time, sums in double, in host memory; no BLAS, no OpenMP, no shared code
// with the kernels it checks (the dropout mask is the contract's
// dropout_keeps). Slow and simple on purpose.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/nn_backend.h"

namespace sxb::test_support {

class LoopBackend final : public nn::Backend {
 public:
  std::string name() const override { return "loops"; }
  std::string describe() const override { return "plain loops on the host"; }

  // --- memory: host tensors, as the CPU backend's -------------------------------
  nn::Tensor empty(std::vector<int> shape, nn::DType dtype) override { return host_->empty(std::move(shape), dtype); }
  void upload(const void* host, const nn::Tensor& dst) override { host_->upload(host, dst); }
  void download(const nn::Tensor& src, void* host) override { host_->download(src, host); }
  void copy(const nn::Tensor& src, const nn::Tensor& dst) override { host_->copy(src, dst); }
  void fill(const nn::Tensor& dst, float value) override { std::fill(f(dst), f(dst) + dst.numel(), value); }

  // --- conv2d -------------------------------------------------------------------
  void conv2d_forward(const nn::Conv2dShape& s, const nn::Tensor& x, const nn::Tensor& w, const nn::Tensor* bias,
                      const nn::Tensor& y) override {
    const std::vector<float> out = conv(s, f(x), f(w), bias ? f(*bias) : nullptr);
    std::copy(out.begin(), out.end(), f(y));
  }
  void conv2d_backward(const nn::Conv2dShape& s, const nn::Tensor& x, const nn::Tensor& w, const nn::Tensor& dy,
                       const nn::Tensor* dx, const nn::Tensor& dw, const nn::Tensor* dbias) override {
    const int Ho = s.out_height(), Wo = s.out_width();
    std::vector<double> gx(x.numel(), 0.0), gw(w.numel(), 0.0), gb(static_cast<std::size_t>(s.out_channels), 0.0);
    for (int n = 0; n < s.batch; ++n)
      for (int k = 0; k < s.out_channels; ++k)
        for (int oh = 0; oh < Ho; ++oh)
          for (int ow = 0; ow < Wo; ++ow) {
            const double g = f(dy)[((static_cast<std::size_t>(n) * s.out_channels + k) * Ho + oh) * Wo + ow];
            gb[k] += g;
            for (int c = 0; c < s.in_channels; ++c)
              for (int i = 0; i < s.kernel_h; ++i)
                for (int j = 0; j < s.kernel_w; ++j) {
                  const int ih = oh * s.stride - s.padding + i, iw = ow * s.stride - s.padding + j;
                  if (ih < 0 || ih >= s.height || iw < 0 || iw >= s.width) continue;
                  const std::size_t xi = ((static_cast<std::size_t>(n) * s.in_channels + c) * s.height + ih) * s.width + iw;
                  const std::size_t wi = ((static_cast<std::size_t>(k) * s.in_channels + c) * s.kernel_h + i) * s.kernel_w + j;
                  gw[wi] += g * f(x)[xi];
                  gx[xi] += g * f(w)[wi];
                }
          }
    store(gw, dw);
    if (dx) store(gx, *dx);
    if (dbias) store(gb, *dbias);
  }

  // --- batch norm -------------------------------------------------------------------
  void batch_norm_forward_train(const nn::BatchNormShape& s, const nn::Tensor& x, const nn::Tensor& gamma,
                                const nn::Tensor& beta, float eps, float momentum, const nn::Tensor& running_mean,
                                const nn::Tensor& running_var, const nn::Tensor& y, const nn::Tensor& saved_mean,
                                const nn::Tensor& saved_inv_std) override {
    const double count = static_cast<double>(s.batch) * s.spatial;
    std::vector<float> out(x.numel());
    for (int c = 0; c < s.channels; ++c) {
      double sum = 0.0, squares = 0.0;
      for_channel(s, c, [&](std::size_t k) { sum += f(x)[k]; });
      const double mean = sum / count;
      for_channel(s, c, [&](std::size_t k) { squares += (f(x)[k] - mean) * (f(x)[k] - mean); });
      const double var = squares / count, inv_std = 1.0 / std::sqrt(var + eps);
      for_channel(s, c, [&](std::size_t k) {
        out[k] = static_cast<float>((f(x)[k] - mean) * inv_std * f(gamma)[c] + f(beta)[c]);
      });
      f(saved_mean)[c] = static_cast<float>(mean);
      f(saved_inv_std)[c] = static_cast<float>(inv_std);
      if (!running_mean.empty()) {
        f(running_mean)[c] = static_cast<float>((1.0 - momentum) * f(running_mean)[c] + momentum * mean);
        f(running_var)[c] =
            static_cast<float>((1.0 - momentum) * f(running_var)[c] + momentum * var * count / (count - 1.0));
      }
    }
    std::copy(out.begin(), out.end(), f(y));  // y may be x
  }
  void batch_norm_forward_eval(const nn::BatchNormShape& s, const nn::Tensor& x, const nn::Tensor& gamma,
                               const nn::Tensor& beta, const nn::Tensor& running_mean, const nn::Tensor& running_var,
                               float eps, const nn::Tensor& y) override {
    for (int c = 0; c < s.channels; ++c) {
      const double inv_std = 1.0 / std::sqrt(static_cast<double>(f(running_var)[c]) + eps);
      for_channel(s, c, [&](std::size_t k) {
        f(y)[k] = static_cast<float>((f(x)[k] - f(running_mean)[c]) * inv_std * f(gamma)[c] + f(beta)[c]);
      });
    }
  }
  void batch_norm_backward(const nn::BatchNormShape& s, const nn::Tensor& x, const nn::Tensor& gamma,
                           const nn::Tensor& saved_mean, const nn::Tensor& saved_inv_std, const nn::Tensor& dy,
                           const nn::Tensor* dx, const nn::Tensor& dgamma, const nn::Tensor& dbeta) override {
    const double count = static_cast<double>(s.batch) * s.spatial;
    std::vector<float> out(x.numel());
    for (int c = 0; c < s.channels; ++c) {
      const double mean = f(saved_mean)[c], inv_std = f(saved_inv_std)[c];
      double sum_dy = 0.0, sum_dy_xhat = 0.0;
      for_channel(s, c, [&](std::size_t k) {
        sum_dy += f(dy)[k];
        sum_dy_xhat += f(dy)[k] * (f(x)[k] - mean) * inv_std;
      });
      f(dgamma)[c] = static_cast<float>(sum_dy_xhat);
      f(dbeta)[c] = static_cast<float>(sum_dy);
      for_channel(s, c, [&](std::size_t k) {
        const double xhat = (f(x)[k] - mean) * inv_std;
        out[k] = static_cast<float>(f(gamma)[c] * inv_std / count * (count * f(dy)[k] - sum_dy - xhat * sum_dy_xhat));
      });
    }
    if (dx) std::copy(out.begin(), out.end(), f(*dx));
  }

  // --- relu, max-pool -----------------------------------------------------------------
  void relu_forward(const nn::Tensor& x, const nn::Tensor& y) override {
    for (std::size_t i = 0; i < x.numel(); ++i) f(y)[i] = f(x)[i] > 0.0f ? f(x)[i] : 0.0f;
  }
  void relu_backward(const nn::Tensor& y, const nn::Tensor& dy, const nn::Tensor& dx) override {
    for (std::size_t i = 0; i < y.numel(); ++i) f(dx)[i] = f(y)[i] > 0.0f ? f(dy)[i] : 0.0f;
  }
  // The first of equal maxima in row-major order; a NaN wins (the last NaN of the window).
  void max_pool2x2_forward(const nn::PoolShape& s, const nn::Tensor& x, const nn::Tensor& y,
                           const nn::Tensor& argmax) override {
    const int Ho = s.out_height(), Wo = s.out_width();
    std::size_t o = 0;
    for (int p = 0; p < s.batch * s.channels; ++p)
      for (int oh = 0; oh < Ho; ++oh)
        for (int ow = 0; ow < Wo; ++ow, ++o) {
          const float* plane = f(x) + static_cast<std::size_t>(p) * s.height * s.width;
          int best = 2 * oh * s.width + 2 * ow;
          for (int t = 1; t < 4; ++t) {
            const int at = (2 * oh + t / 2) * s.width + 2 * ow + t % 2;
            if (std::isnan(plane[at]) || plane[at] > plane[best]) best = at;
          }
          f(y)[o] = plane[best];
          argmax.data<std::int32_t>()[o] = best;
        }
  }
  void max_pool2x2_backward(const nn::PoolShape& s, const nn::Tensor& dy, const nn::Tensor& argmax,
                            const nn::Tensor& dx) override {
    const std::size_t plane = static_cast<std::size_t>(s.height) * s.width, out = dy.numel() / (s.batch * s.channels);
    std::fill(f(dx), f(dx) + dx.numel(), 0.0f);
    for (std::size_t o = 0; o < dy.numel(); ++o) f(dx)[o / out * plane + argmax.data<std::int32_t>()[o]] = f(dy)[o];
  }

  // --- linear -----------------------------------------------------------------------
  void linear_forward(const nn::LinearShape& s, const nn::Tensor& x, const nn::Tensor& w, const nn::Tensor* bias,
                      const nn::Tensor& y) override {
    const std::vector<float> out = linear(s, f(x), f(w), bias ? f(*bias) : nullptr);
    std::copy(out.begin(), out.end(), f(y));
  }
  void linear_backward(const nn::LinearShape& s, const nn::Tensor& x, const nn::Tensor& w, const nn::Tensor& dy,
                       const nn::Tensor* dx, const nn::Tensor& dw, const nn::Tensor* dbias) override {
    std::vector<double> gx(x.numel(), 0.0), gw(w.numel(), 0.0), gb(static_cast<std::size_t>(s.out_features), 0.0);
    for (int n = 0; n < s.batch; ++n)
      for (int o = 0; o < s.out_features; ++o) {
        const double g = f(dy)[static_cast<std::size_t>(n) * s.out_features + o];
        gb[o] += g;
        for (int i = 0; i < s.in_features; ++i) {
          gw[static_cast<std::size_t>(o) * s.in_features + i] += g * f(x)[static_cast<std::size_t>(n) * s.in_features + i];
          gx[static_cast<std::size_t>(n) * s.in_features + i] += g * f(w)[static_cast<std::size_t>(o) * s.in_features + i];
        }
      }
    store(gw, dw);
    if (dx) store(gx, *dx);
    if (dbias) store(gb, *dbias);
  }

  // --- sparse weights: the dense product of the CSR matrix ------------------------------
  void conv2d_forward_sparse(const nn::Conv2dShape& s, const nn::Tensor& x, const nn::SparseWeight& w,
                             const nn::Tensor* bias, const nn::Tensor& y) override {
    const std::vector<float> out = conv(s, f(x), dense(w).data(), bias ? f(*bias) : nullptr);
    std::copy(out.begin(), out.end(), f(y));
  }
  void linear_forward_sparse(const nn::LinearShape& s, const nn::Tensor& x, const nn::SparseWeight& w,
                             const nn::Tensor* bias, const nn::Tensor& y) override {
    const std::vector<float> out = linear(s, f(x), dense(w).data(), bias ? f(*bias) : nullptr);
    std::copy(out.begin(), out.end(), f(y));
  }

  // --- dropout, loss, optimizer, clamp ------------------------------------------------
  void dropout_forward(float p, std::uint64_t seed, std::uint64_t step, const nn::Tensor& x,
                       const nn::Tensor& y) override {
    dropout(p, seed, step, x, y);
  }
  void dropout_backward(float p, std::uint64_t seed, std::uint64_t step, const nn::Tensor& dy,
                        const nn::Tensor& dx) override {
    dropout(p, seed, step, dy, dx);
  }
  nn::LossResult softmax_cross_entropy(const nn::Tensor& logits, const nn::Tensor& labels,
                                       const nn::Tensor* dlogits) override {
    const int N = logits.dim(0), K = logits.dim(1);
    nn::LossResult r;
    for (int n = 0; n < N; ++n) {
      const float* z = f(logits) + static_cast<std::size_t>(n) * K;
      const int label = labels.data<std::int32_t>()[n];
      const int best = static_cast<int>(std::max_element(z, z + K) - z);  // the first largest
      double sum = 0.0;
      for (int k = 0; k < K; ++k) sum += std::exp(static_cast<double>(z[k]) - z[best]);
      r.loss += (z[best] + std::log(sum) - z[label]) / N;
      r.correct += best == label;
      if (dlogits)
        for (int k = 0; k < K; ++k)
          f(*dlogits)[static_cast<std::size_t>(n) * K + k] =
              static_cast<float>((std::exp(static_cast<double>(z[k]) - z[best]) / sum - (k == label)) / N);
    }
    return r;
  }
  void sgd_step(const nn::SgdParams& p, const nn::Tensor& param, const nn::Tensor& grad, const nn::Tensor* buffer,
                const nn::Tensor* mask) override {
    for (std::size_t i = 0; i < param.numel(); ++i) {
      float &w = f(param)[i], &g = f(grad)[i];
      if (mask && mask->data<std::uint8_t>()[i] == 0) {
        w = g = 0.0f;
        if (buffer) f(*buffer)[i] = 0.0f;
        continue;
      }
      const double d = static_cast<double>(g) + static_cast<double>(p.weight_decay) * w;
      double step = d;
      if (p.momentum != 0.0f) {
        const double b = static_cast<double>(p.momentum) * f(*buffer)[i] + d;
        f(*buffer)[i] = static_cast<float>(b);
        step = p.nesterov ? d + p.momentum * b : b;
      }
      w = static_cast<float>(w - p.lr * step);
    }
  }
  void clamp(const nn::Tensor& t, float lo, float hi) override {
    for (std::size_t i = 0; i < t.numel(); ++i) {
      float& v = f(t)[i];
      if (v < lo) v = lo;
      if (v > hi) v = hi;
    }
  }

 private:
  static float* f(const nn::Tensor& t) { return t.data<float>(); }
  template <class F>
  static void for_channel(const nn::BatchNormShape& s, int c, F&& body) {
    for (int n = 0; n < s.batch; ++n)
      for (int i = 0; i < s.spatial; ++i) body((static_cast<std::size_t>(n) * s.channels + c) * s.spatial + i);
  }
  static void store(const std::vector<double>& v, const nn::Tensor& t) {
    for (std::size_t i = 0; i < v.size(); ++i) f(t)[i] = static_cast<float>(v[i]);
  }
  static std::vector<float> conv(const nn::Conv2dShape& s, const float* x, const float* w, const float* bias) {
    const int Ho = s.out_height(), Wo = s.out_width();
    std::vector<float> y(static_cast<std::size_t>(s.batch) * s.out_channels * Ho * Wo);
    std::size_t o = 0;
    for (int n = 0; n < s.batch; ++n)
      for (int k = 0; k < s.out_channels; ++k)
        for (int oh = 0; oh < Ho; ++oh)
          for (int ow = 0; ow < Wo; ++ow, ++o) {
            double acc = bias ? bias[k] : 0.0;
            for (int c = 0; c < s.in_channels; ++c)
              for (int i = 0; i < s.kernel_h; ++i)
                for (int j = 0; j < s.kernel_w; ++j) {
                  const int ih = oh * s.stride - s.padding + i, iw = ow * s.stride - s.padding + j;
                  if (ih < 0 || ih >= s.height || iw < 0 || iw >= s.width) continue;
                  acc += static_cast<double>(x[((static_cast<std::size_t>(n) * s.in_channels + c) * s.height + ih) *
                                                   s.width + iw]) *
                         w[((static_cast<std::size_t>(k) * s.in_channels + c) * s.kernel_h + i) * s.kernel_w + j];
                }
            y[o] = static_cast<float>(acc);
          }
    return y;
  }
  static std::vector<float> linear(const nn::LinearShape& s, const float* x, const float* w, const float* bias) {
    std::vector<float> y(static_cast<std::size_t>(s.batch) * s.out_features);
    for (int n = 0; n < s.batch; ++n)
      for (int o = 0; o < s.out_features; ++o) {
        double acc = bias ? bias[o] : 0.0;
        for (int i = 0; i < s.in_features; ++i)
          acc += static_cast<double>(x[static_cast<std::size_t>(n) * s.in_features + i]) *
                 w[static_cast<std::size_t>(o) * s.in_features + i];
        y[static_cast<std::size_t>(n) * s.out_features + o] = static_cast<float>(acc);
      }
    return y;
  }
  static std::vector<float> dense(const nn::SparseWeight& w) {
    std::vector<float> m(static_cast<std::size_t>(w.rows) * w.cols, 0.0f);
    const std::int32_t* row_ptr = w.row_ptr.data<std::int32_t>();
    for (int r = 0; r < w.rows; ++r)
      for (std::int32_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e)
        m[static_cast<std::size_t>(r) * w.cols + w.col_idx.data<std::int32_t>()[e]] = f(w.values)[e];
    return m;
  }
  static void dropout(float p, std::uint64_t seed, std::uint64_t step, const nn::Tensor& in, const nn::Tensor& out) {
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (std::size_t i = 0; i < in.numel(); ++i) f(out)[i] = nn::dropout_keeps(seed, step, i, p) ? f(in)[i] * scale : 0.0f;
  }

  std::unique_ptr<nn::Backend> host_ = nn::make_cpu_backend();
};

}  // namespace sxb::test_support
