// Per-channel batch normalisation. Each channel is one serial pass over its
// N*spatial values (statistics as LaneSums: fp32 lanes per block of a plane,
// double across blocks), channels in parallel: every sum has a fixed order
// whatever the thread count. The element-wise passes are fp32. Compiled
// without contraction (CMakeLists.txt): every ISA clone gives the same bits.
#include <cmath>
#include <cstddef>

#include "kernels/common/multiversion.h"
#include "kernels/nn/cpu/lane_sums.h"
#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

namespace {

// Channel c of batch_norm_forward_train.
SXB_MULTIVERSION void forward_train_channel(const BatchNormShape& s, int c, const float* x, const float* gamma,
                                            const float* beta, float eps, float momentum, float* running_mean,
                                            float* running_var, float* y, float* saved_mean, float* saved_inv_std) {
  const int L = s.spatial;
  const double count = static_cast<double>(s.batch) * L;
  const std::size_t stride = static_cast<std::size_t>(s.channels) * L;
  LaneSums sum;
  for (int n = 0; n < s.batch; ++n) add_values(x + n * stride + static_cast<std::size_t>(c) * L, L, sum);
  const double mean = sum.total() / count;
  LaneSums squares;  // two-pass variance: no cancellation
  for (int n = 0; n < s.batch; ++n) add_squares(x + n * stride + static_cast<std::size_t>(c) * L, L, mean, squares);
  const double var = squares.total() / count;
  const double inv_std = 1.0 / std::sqrt(var + static_cast<double>(eps));
  const float scale = static_cast<float>(gamma[c] * inv_std);
  const float shift = static_cast<float>(beta[c] - mean * gamma[c] * inv_std);
  // y may alias x: each value is read once more and overwritten in place.
  for (int n = 0; n < s.batch; ++n) {
    const std::size_t offset = n * stride + static_cast<std::size_t>(c) * L;
    for (int i = 0; i < L; ++i) y[offset + i] = x[offset + i] * scale + shift;
  }
  saved_mean[c] = static_cast<float>(mean);
  saved_inv_std[c] = static_cast<float>(inv_std);
  if (running_mean && running_var) {
    const double m = momentum;
    const double unbiased = var * count / (count - 1.0);
    running_mean[c] = static_cast<float>((1.0 - m) * running_mean[c] + m * mean);
    running_var[c] = static_cast<float>((1.0 - m) * running_var[c] + m * unbiased);
  }
}

// Channel c of batch_norm_backward.
SXB_MULTIVERSION void backward_channel(const BatchNormShape& s, int c, const float* x, const float* gamma,
                                       const float* saved_mean, const float* saved_inv_std, const float* dy, float* dx,
                                       float* dgamma, float* dbeta) {
  const int L = s.spatial;
  const double count = static_cast<double>(s.batch) * L;
  const std::size_t stride = static_cast<std::size_t>(s.channels) * L;
  const double mean = saved_mean[c], inv_std = saved_inv_std[c];
  LaneSums dys, dy_centred;
  for (int n = 0; n < s.batch; ++n) {
    const std::size_t offset = n * stride + static_cast<std::size_t>(c) * L;
    add_values(dy + offset, L, dys);
    add_products(dy + offset, x + offset, L, mean, dy_centred);
  }
  const double sum_dy = dys.total(), sum_dy_xhat = dy_centred.total() * inv_std;
  dbeta[c] = static_cast<float>(sum_dy);
  dgamma[c] = static_cast<float>(sum_dy_xhat);
  if (!dx) return;
  // dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat)), with
  // xhat = (x - mean) * inv_std: dx = a * dy + b * (x - mean) + d (fp32).
  const double mean_dy = sum_dy / count, mean_dy_xhat = sum_dy_xhat / count;
  const double k = gamma[c] * inv_std;
  const float a = static_cast<float>(k), b = static_cast<float>(-k * inv_std * mean_dy_xhat);
  const float d = static_cast<float>(-k * mean_dy), m = static_cast<float>(mean);
  for (int n = 0; n < s.batch; ++n) {
    const std::size_t offset = n * stride + static_cast<std::size_t>(c) * L;
    for (int i = 0; i < L; ++i) dx[offset + i] = a * dy[offset + i] + b * (x[offset + i] - m) + d;
  }
}

}  // namespace

void batch_norm_forward_train(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                              float eps, float momentum, float* running_mean, float* running_var, float* y,
                              float* saved_mean, float* saved_inv_std) {
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.channels; ++c)
    forward_train_channel(s, c, x, gamma, beta, eps, momentum, running_mean, running_var, y, saved_mean,
                          saved_inv_std);
}

void batch_norm_eval_affine(int channels, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, float eps, float* scale, float* shift) {
  for (int c = 0; c < channels; ++c) {
    const double inv_std = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    scale[c] = static_cast<float>(gamma[c] * inv_std);
    shift[c] = static_cast<float>(beta[c] - running_mean[c] * (gamma[c] * inv_std));
  }
}

void batch_norm_forward_eval(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, float eps, float* y) {
  const int L = s.spatial;
  const std::size_t stride = static_cast<std::size_t>(s.channels) * L;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.batch; ++n) {
    for (int c = 0; c < s.channels; ++c) {
      float scale = 0.0f, shift = 0.0f;
      batch_norm_eval_affine(1, gamma + c, beta + c, running_mean + c, running_var + c, eps, &scale, &shift);
      const std::size_t offset = n * stride + static_cast<std::size_t>(c) * L;
      for (int i = 0; i < L; ++i) y[offset + i] = x[offset + i] * scale + shift;
    }
  }
}

void batch_norm_backward(const BatchNormShape& s, const float* x, const float* gamma, const float* saved_mean,
                         const float* saved_inv_std, const float* dy, float* dx, float* dgamma, float* dbeta) {
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.channels; ++c)
    backward_channel(s, c, x, gamma, saved_mean, saved_inv_std, dy, dx, dgamma, dbeta);
}

}  // namespace sxb::nn::cpu
