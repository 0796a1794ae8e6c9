// Per-channel batch normalisation on the GPU: one block per channel for the
// train-mode forward and the backward (statistics in double, block_sum: a
// fixed reduction order), element-wise for eval mode. Formulas as
// kernels/nn/cpu/batchnorm.cpp.
#include <cmath>

#include "kernels/nn/cuda/common.cuh"
#include "kernels/nn/cuda/layers_cuda.h"

namespace sxb::nn::gpu {

namespace {

// Element j of channel c, for j in [0, N*L): sample j / L, position j % L.
__device__ inline std::size_t channel_offset(std::size_t j, int c, int channels, int L) {
  return ((j / L) * channels + c) * L + j % L;
}

__global__ void batch_norm_train_kernel(BatchNormShape s, const float* x, const float* __restrict__ gamma,
                                        const float* __restrict__ beta, float eps, float momentum,
                                        float* __restrict__ running_mean, float* __restrict__ running_var, float* y,
                                        float* __restrict__ saved_mean, float* __restrict__ saved_inv_std) {
  __shared__ double scratch[kReduceThreads];
  const int c = blockIdx.x, L = s.spatial;
  const std::size_t count = static_cast<std::size_t>(s.batch) * L;
  double sum = 0.0;
  for (std::size_t j = threadIdx.x; j < count; j += kReduceThreads) sum += x[channel_offset(j, c, s.channels, L)];
  const double mean = block_sum(sum, scratch) / static_cast<double>(count);
  double squares = 0.0;  // two-pass variance, as the CPU
  for (std::size_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const double d = x[channel_offset(j, c, s.channels, L)] - mean;
    squares += d * d;
  }
  const double var = block_sum(squares, scratch) / static_cast<double>(count);
  const double inv_std = 1.0 / sqrt(var + static_cast<double>(eps));
  const float scale = static_cast<float>(gamma[c] * inv_std);
  const float shift = static_cast<float>(beta[c] - mean * gamma[c] * inv_std);
  // y may alias x: every thread reads its own elements once more, then writes
  // them; block_sum's barriers ended every statistics read before this.
  for (std::size_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const std::size_t o = channel_offset(j, c, s.channels, L);
    y[o] = x[o] * scale + shift;
  }
  if (threadIdx.x == 0) {
    saved_mean[c] = static_cast<float>(mean);
    saved_inv_std[c] = static_cast<float>(inv_std);
    if (running_mean && running_var) {
      const double m = momentum;
      const double unbiased = var * static_cast<double>(count) / (static_cast<double>(count) - 1.0);
      running_mean[c] = static_cast<float>((1.0 - m) * running_mean[c] + m * mean);
      running_var[c] = static_cast<float>((1.0 - m) * running_var[c] + m * unbiased);
    }
  }
}

// One block per (sample, channel) plane.
__global__ void batch_norm_eval_kernel(BatchNormShape s, const float* x, const float* __restrict__ gamma,
                                       const float* __restrict__ beta, const float* __restrict__ running_mean,
                                       const float* __restrict__ running_var, float eps, float* y) {
  const std::size_t plane = blockIdx.x;
  const int c = static_cast<int>(plane % s.channels);
  const double inv_std = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
  const float scale = static_cast<float>(gamma[c] * inv_std);
  const float shift = static_cast<float>(beta[c] - running_mean[c] * (gamma[c] * inv_std));
  const std::size_t offset = plane * s.spatial;
  for (int i = threadIdx.x; i < s.spatial; i += blockDim.x) y[offset + i] = x[offset + i] * scale + shift;
}

__global__ void batch_norm_backward_kernel(BatchNormShape s, const float* __restrict__ x,
                                           const float* __restrict__ gamma, const float* __restrict__ saved_mean,
                                           const float* __restrict__ saved_inv_std, const float* __restrict__ dy,
                                           float* __restrict__ dx, float* __restrict__ dgamma,
                                           float* __restrict__ dbeta) {
  __shared__ double scratch[kReduceThreads];
  const int c = blockIdx.x, L = s.spatial;
  const std::size_t count = static_cast<std::size_t>(s.batch) * L;
  const double mean = saved_mean[c], inv_std = saved_inv_std[c];
  double sum_dy = 0.0, sum_dy_xhat = 0.0;
  for (std::size_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const std::size_t o = channel_offset(j, c, s.channels, L);
    const double g = dy[o];
    sum_dy += g;
    sum_dy_xhat += g * (x[o] - mean) * inv_std;
  }
  sum_dy = block_sum(sum_dy, scratch);
  sum_dy_xhat = block_sum(sum_dy_xhat, scratch);
  if (threadIdx.x == 0) {
    dbeta[c] = static_cast<float>(sum_dy);
    dgamma[c] = static_cast<float>(sum_dy_xhat);
  }
  if (!dx) return;
  // dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat))
  const double mean_dy = sum_dy / static_cast<double>(count), mean_dy_xhat = sum_dy_xhat / static_cast<double>(count);
  const double k = gamma[c] * inv_std;
  for (std::size_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const std::size_t o = channel_offset(j, c, s.channels, L);
    const double xhat = (x[o] - mean) * inv_std;
    dx[o] = static_cast<float>(k * (dy[o] - mean_dy - xhat * mean_dy_xhat));
  }
}

}  // namespace

void batch_norm_forward_train(const Queue& q, const BatchNormShape& s, const float* x, const float* gamma,
                              const float* beta, float eps, float momentum, float* running_mean, float* running_var,
                              float* y, float* saved_mean, float* saved_inv_std) {
  cuda::launch(batch_norm_train_kernel, static_cast<std::size_t>(s.channels), kReduceThreads, 0, q.stream, s, x, gamma,
               beta, eps, momentum, running_mean, running_var, y, saved_mean, saved_inv_std);
}

void batch_norm_forward_eval(const Queue& q, const BatchNormShape& s, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var, float eps,
                             float* y) {
  const int threads = s.spatial >= 256 ? 256 : 64;
  cuda::launch(batch_norm_eval_kernel, static_cast<std::size_t>(s.batch) * s.channels, threads, 0, q.stream, s, x,
               gamma, beta, running_mean, running_var, eps, y);
}

void batch_norm_backward(const Queue& q, const BatchNormShape& s, const float* x, const float* gamma,
                         const float* saved_mean, const float* saved_inv_std, const float* dy, float* dx,
                         float* dgamma, float* dbeta) {
  cuda::launch(batch_norm_backward_kernel, static_cast<std::size_t>(s.channels), kReduceThreads, 0, q.stream, s, x,
               gamma, saved_mean, saved_inv_std, dy, dx, dgamma, dbeta);
}

}  // namespace sxb::nn::gpu
