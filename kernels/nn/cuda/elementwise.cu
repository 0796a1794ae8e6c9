// Element-wise layer kernels on the GPU: fill, ReLU, dropout (the CPU's
// counter-based mask, computed by the same constexpr rng::counter_hash of
// kernels/common/counter_rng.h, which nvcc compiles for the device with
// --expt-relaxed-constexpr) and the SGD step. Formulas as kernels/nn/cpu.
#include "kernels/nn/cuda/common.cuh"
#include "kernels/nn/cuda/kernel_probe.h"
#include "kernels/nn/cuda/layers_cuda.h"
#include "kernels/nn/sgd_update.h"

namespace sxb::nn::gpu {

namespace {

__global__ void fill_kernel(std::size_t n, float value, float* __restrict__ dst) {
  SXB_GRID_LOOP(i, n) dst[i] = value;
}

// In place allowed (y == x).
__global__ void relu_forward_kernel(std::size_t n, const float* x, float* y) {
  SXB_GRID_LOOP(i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// In place allowed (dx == dy).
__global__ void relu_backward_kernel(std::size_t n, const float* y, const float* dy, float* dx) {
  SXB_GRID_LOOP(i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// out[i] = keep(i) ? in[i] * scale : 0, keep as dropout_keeps. In place allowed.
__global__ void dropout_kernel(std::size_t n, std::uint64_t threshold, float scale, std::uint64_t seed,
                               std::uint64_t step, const float* in, float* out) {
  SXB_GRID_LOOP(i, n) {
    const bool keep = (rng::counter_hash(seed, step, static_cast<std::uint64_t>(i)) >> 32) >= threshold;
    out[i] = keep ? in[i] * scale : 0.0f;
  }
}

__global__ void sgd_kernel(std::size_t n, SgdParams params, float* __restrict__ param, float* __restrict__ grad,
                           float* __restrict__ momentum_buf, const std::uint8_t* __restrict__ mask) {
  SXB_GRID_LOOP(i, n) sgd_update(params, i, param, grad, momentum_buf, mask);
}

}  // namespace

void fill(const Queue& q, std::size_t n, float value, float* dst) {
  cuda::launch(fill_kernel, blocks_for(n), kThreads, 0, q.stream, n, value, dst);
}

void relu_forward(const Queue& q, std::size_t n, const float* x, float* y) {
  cuda::launch(relu_forward_kernel, blocks_for(n), kThreads, 0, q.stream, n, x, y);
}

void relu_backward(const Queue& q, std::size_t n, const float* y, const float* dy, float* dx) {
  cuda::launch(relu_backward_kernel, blocks_for(n), kThreads, 0, q.stream, n, y, dy, dx);
}

void dropout_apply(const Queue& q, std::size_t n, float p, std::uint64_t seed, std::uint64_t step, const float* in,
                   float* out) {
  const std::uint64_t threshold = dropout_threshold(p);
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  cuda::launch(dropout_kernel, blocks_for(n), kThreads, 0, q.stream, n, threshold, scale, seed, step, in, out);
}

void sgd_step(const Queue& q, std::size_t n, const SgdParams& params, float* param, float* grad, float* momentum_buf,
              const std::uint8_t* mask) {
  cuda::launch(sgd_kernel, blocks_for(n), kThreads, 0, q.stream, n, params, param, grad, momentum_buf, mask);
}

std::string kernel_problem() {
  cudaFuncAttributes attributes{};
  const cudaError_t code = cudaFuncGetAttributes(&attributes, fill_kernel);
  if (code == cudaSuccess) return {};
  (void)cudaGetLastError();
  return std::string("the network kernels cannot run on this GPU (") + cudaGetErrorString(code) + ")";
}

}  // namespace sxb::nn::gpu
