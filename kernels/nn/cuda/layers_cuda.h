// CUDA launchers of the neural-network layer kernels (kernels/nn/layers.h):
// the same contract as sxb::nn::cpu on device pointers, enqueued on the
// caller's stream (nothing here synchronises). Host-side header: it names CUDA
// and cuBLAS types but holds no device code; only CUDA builds include it
// (models/nn_backend_cuda.cpp and kernels/nn/cuda/*.cu).
//
// Differences from the CPU kernels, all within float rounding: the batch
// reductions (batch-norm statistics, bias gradients, the mean loss) are
// deterministic tree sums in double instead of serial sums, and the GEMMs are
// cuBLAS's (FP32, no TF32). Every result is bit-identical from run to run on
// the same GPU and toolkit: no atomics, fixed launch shapes, fixed chunking.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusparse.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "kernels/nn/layers.h"

namespace sxb::nn::gpu {

// Where work goes: one stream, and the cuBLAS and cuSPARSE handles bound to it.
struct Queue {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cusparseHandle_t sparse = nullptr;
};

// Stream-ordered device scratch of the given size, valid for the work the
// caller enqueues before it returns (cuSPARSE's external buffers).
using ScratchFn = std::function<void*(std::size_t bytes)>;

// --- conv2d: im2col + one cuBLAS SGEMM per chunk of images ---------------------
// A chunk of `images` samples is unrolled into a column matrix
// [C*kh*kw, images*Ho*Wo]; forward multiplies it by the weight [K, C*kh*kw],
// backward adds the chunk's weight gradient onto the previous chunks' (chunks
// in batch order) and turns the column gradient back into dx (col2im, a
// gather in a fixed tap order).
struct ConvPlan {
  int images = 1;                   // per chunk: fixed by the shape alone
  std::size_t columns = 0;          // floats of the column matrix (and of its gradient)
  std::size_t channel_major = 0;    // floats of the [K, images*Ho*Wo] output / dy block
  // Device workspace, in floats, that conv2d_forward / conv2d_backward need.
  std::size_t workspace_floats() const { return 2 * columns + channel_major; }
};
ConvPlan plan_conv2d(const Conv2dShape& s);

// x [N,C,H,W], weight [K,C,kh,kw], bias [K] (may be null) -> y [N,K,Ho,Wo].
void conv2d_forward(const Queue& q, const Conv2dShape& s, const ConvPlan& plan, float* workspace, const float* x,
                    const float* weight, const float* bias, float* y);
// dy -> dx (may be null), dweight [K,C,kh,kw], dbias [K] (may be null).
void conv2d_backward(const Queue& q, const Conv2dShape& s, const ConvPlan& plan, float* workspace, const float* x,
                     const float* weight, const float* dy, float* dx, float* dweight, float* dbias);

// --- linear: cuBLAS SGEMM -----------------------------------------------------------
void linear_forward(const Queue& q, const LinearShape& s, const float* x, const float* weight, const float* bias,
                    float* y);
void linear_backward(const Queue& q, const LinearShape& s, const float* x, const float* weight, const float* dy,
                     float* dx, float* dweight, float* dbias);

// --- sparse weights (inference): cuSPARSE SpMM on CSR ------------------------------
// C [m, n] = A [m, k] (CSR, device arrays of `a`) * B [k, n], B and C both
// row-major or both column-major, leading dimensions ldb, ldc. Non-transposed
// CSR SpMM is deterministic (cuSPARSE documents run-to-run differences only
// for op(A) = A^T).
void spmm_csr(const Queue& q, const CsrView& a, int n, const float* b, int ldb, float* c, int ldc, bool row_major,
              const ScratchFn& scratch);
// conv2d_forward with the weight as CSR [K, C*kh*kw] (workspace as conv2d_forward).
void conv2d_forward_csr(const Queue& q, const Conv2dShape& s, const ConvPlan& plan, float* workspace, const float* x,
                        const CsrView& weight, const float* bias, float* y, const ScratchFn& scratch);
// linear_forward with the weight as CSR [out, in].
void linear_forward_csr(const Queue& q, const LinearShape& s, const float* x, const CsrView& weight,
                        const float* bias, float* y, const ScratchFn& scratch);

// out[k] = sum over n < outer, m < inner of v[(n*channels + k)*inner + m]
// (bias gradients: [N, K, Ho*Wo] for conv, [N, out, 1] for linear).
void channel_sums(const Queue& q, int outer, int channels, int inner, const float* v, float* out);

// --- batch_norm -------------------------------------------------------------------
void batch_norm_forward_train(const Queue& q, const BatchNormShape& s, const float* x, const float* gamma,
                              const float* beta, float eps, float momentum, float* running_mean, float* running_var,
                              float* y, float* saved_mean, float* saved_inv_std);
void batch_norm_forward_eval(const Queue& q, const BatchNormShape& s, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var, float eps,
                             float* y);
void batch_norm_backward(const Queue& q, const BatchNormShape& s, const float* x, const float* gamma,
                         const float* saved_mean, const float* saved_inv_std, const float* dy, float* dx,
                         float* dgamma, float* dbeta);

// --- element-wise -----------------------------------------------------------------
void fill(const Queue& q, std::size_t n, float value, float* dst);
void relu_forward(const Queue& q, std::size_t n, const float* x, float* y);
void relu_backward(const Queue& q, std::size_t n, const float* y, const float* dy, float* dx);
// The mask of dropout_keeps (kernels/nn/layers.h), bit for bit the CPU's.
void dropout_apply(const Queue& q, std::size_t n, float p, std::uint64_t seed, std::uint64_t step, const float* in,
                   float* out);
void sgd_step(const Queue& q, std::size_t n, const SgdParams& params, float* param, float* grad, float* momentum_buf,
              const std::uint8_t* mask);
// In place, as cpu::clamp (kernels/nn/cuda/clamp.cu).
void clamp(const Queue& q, std::size_t n, float lo, float hi, float* x);

// --- max_pool 2x2 -------------------------------------------------------------------
void max_pool2x2_forward(const Queue& q, const PoolShape& s, const float* x, float* y, std::int32_t* argmax);
void max_pool2x2_backward(const Queue& q, const PoolShape& s, const float* dy, const std::int32_t* argmax,
                          float* dx);

// --- softmax cross-entropy -----------------------------------------------------------
// Device result of the loss: the SUM of the per-sample losses (the caller
// divides by the batch) and the number of correct predictions.
struct LossTotals {
  double loss_sum = 0.0;
  int correct = 0;
};
// Workspace: loss_workspace_bytes(batch) bytes of device memory.
std::size_t loss_workspace_bytes(int batch);
// Writes the totals to `totals` (device memory); dlogits may be null. A label
// outside [0, classes) makes that sample's loss NaN.
void softmax_cross_entropy(const Queue& q, int batch, int classes, const float* logits, const int* labels,
                           float* dlogits, void* workspace, LossTotals* totals);

}  // namespace sxb::nn::gpu
