// Fully connected layer on cuBLAS SGEMM, and the per-channel sums that give
// the bias gradients of conv2d and linear. Row-major matrices are handed to
// (column-major) cuBLAS as their transposes.
#include "kernels/nn/cuda/common.cuh"
#include "kernels/nn/cuda/cublas_check.h"
#include "kernels/nn/cuda/layers_cuda.h"

namespace sxb::nn::gpu {

namespace {

// y [rows, cols] += bias [cols] on every row.
__global__ void add_row_bias_kernel(std::size_t rows, int cols, const float* __restrict__ bias, float* __restrict__ y) {
  SXB_GRID_LOOP(idx, rows * cols) y[idx] += bias[idx % cols];
}

// One block per channel k; fixed strided partial sums, then block_sum.
__global__ void channel_sums_kernel(int outer, int channels, int inner, const float* __restrict__ v,
                                    float* __restrict__ out) {
  __shared__ double scratch[kReduceThreads];
  const int k = blockIdx.x;
  const std::size_t count = static_cast<std::size_t>(outer) * inner;
  double sum = 0.0;
  for (std::size_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const std::size_t n = j / inner, m = j % inner;
    sum += v[(n * channels + k) * inner + m];
  }
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) out[k] = static_cast<float>(sum);
}

}  // namespace

void channel_sums(const Queue& q, int outer, int channels, int inner, const float* v, float* out) {
  cuda::launch(channel_sums_kernel, static_cast<std::size_t>(channels), kReduceThreads, 0, q.stream, outer, channels,
               inner, v, out);
}

void linear_forward(const Queue& q, const LinearShape& s, const float* x, const float* weight, const float* bias,
                    float* y) {
  const int in = s.in_features, out = s.out_features;
  const float one = 1.0f, zero = 0.0f;
  // y [N, out] = x [N, in] * weight^T; column-major: y^T [out, N] = weight [in, out]^T * x^T [in, N].
  SXB_CUBLAS_CHECK(
      cublasSgemm(q.blas, CUBLAS_OP_T, CUBLAS_OP_N, out, s.batch, in, &one, weight, in, x, in, &zero, y, out));
  if (bias) {
    const std::size_t rows = static_cast<std::size_t>(s.batch);
    cuda::launch(add_row_bias_kernel, blocks_for(rows * out), kThreads, 0, q.stream, rows, out, bias, y);
  }
}

void linear_forward_csr(const Queue& q, const LinearShape& s, const float* x, const CsrView& weight,
                        const float* bias, float* y, const ScratchFn& scratch) {
  // Column-major, x is x^T [in, N] and y is y^T [out, N]: y^T = weight (CSR) * x^T.
  spmm_csr(q, weight, s.batch, x, s.in_features, y, s.out_features, false, scratch);
  if (bias) {
    const std::size_t rows = static_cast<std::size_t>(s.batch);
    cuda::launch(add_row_bias_kernel, blocks_for(rows * s.out_features), kThreads, 0, q.stream, rows,
                 s.out_features, bias, y);
  }
}

void linear_backward(const Queue& q, const LinearShape& s, const float* x, const float* weight, const float* dy,
                     float* dx, float* dweight, float* dbias) {
  const int in = s.in_features, out = s.out_features;
  const float one = 1.0f, zero = 0.0f;
  if (dx) {
    // dx [N, in] = dy [N, out] * weight [out, in]; column-major: dx^T = weight^T * dy^T.
    SXB_CUBLAS_CHECK(
        cublasSgemm(q.blas, CUBLAS_OP_N, CUBLAS_OP_N, in, s.batch, out, &one, weight, in, dy, out, &zero, dx, in));
  }
  // dweight [out, in] = dy^T [out, N] * x [N, in]; column-major: dweight^T = x^T * dy.
  SXB_CUBLAS_CHECK(
      cublasSgemm(q.blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, s.batch, &one, x, in, dy, out, &zero, dweight, in));
  if (dbias) channel_sums(q, s.batch, out, 1, dy, dbias);
}

}  // namespace sxb::nn::gpu
