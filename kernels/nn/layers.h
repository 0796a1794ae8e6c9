// Neural-network layer kernels: the contract every backend implements.
//
// fp32, NCHW, row-major, PyTorch parameter layouts. Plain functions on raw
// pointers; the shape structs below are shared by all backends. Conventions:
//  - Outputs are overwritten, never accumulated into (gradients included).
//  - Pointers marked "may be null" are optional; all others are required.
//  - Inputs and outputs do not alias unless a function says so.
//  - Shapes are checked once, at the API layer, with the `check()` helpers;
//    the kernels assume valid input.
//  - Determinism: every result is bit-identical for any OpenMP thread count.
//    Reductions over the batch are summed in a fixed order (fixed-size batch
//    chunks added in index order, or one serial sum per channel), never in an
//    order that follows the thread partition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/common/counter_rng.h"
#include "kernels/common/error.h"

namespace sxb::nn {

// 2-d convolution (cross-correlation, as in PyTorch) with square padding and stride.
struct Conv2dShape {
  int batch = 1;         // N
  int in_channels = 1;   // C
  int height = 1;        // H
  int width = 1;         // W
  int out_channels = 1;  // K
  int kernel_h = 3;
  int kernel_w = 3;
  int padding = 0;  // zero padding on every side
  int stride = 1;

  int out_height() const { return (height + 2 * padding - kernel_h) / stride + 1; }
  int out_width() const { return (width + 2 * padding - kernel_w) / stride + 1; }
  void check() const {
    SXB_REQUIRE(batch > 0 && in_channels > 0 && height > 0 && width > 0 && out_channels > 0 &&
                    kernel_h > 0 && kernel_w > 0 && padding >= 0 && stride > 0,
                "conv2d: sizes must be positive (padding non-negative)");
    SXB_REQUIRE(height + 2 * padding >= kernel_h && width + 2 * padding >= kernel_w,
                "conv2d: kernel " + std::to_string(kernel_h) + "x" + std::to_string(kernel_w) +
                    " is larger than the padded input " + std::to_string(height + 2 * padding) + "x" +
                    std::to_string(width + 2 * padding));
  }
};

// Per-channel batch normalisation of [N, C, spatial] (spatial = H*W).
struct BatchNormShape {
  int batch = 1;     // N
  int channels = 1;  // C
  int spatial = 1;   // H*W
  // Train mode needs more than one value per channel (as PyTorch).
  void check(bool training) const {
    SXB_REQUIRE(batch > 0 && channels > 0 && spatial > 0, "batch_norm: sizes must be positive");
    SXB_REQUIRE(!training || static_cast<long long>(batch) * spatial > 1,
                "batch_norm: training needs more than one value per channel");
  }
};

// 2x2 max-pool with stride 2 over [N, C, H, W] -> [N, C, H/2, W/2] (floor:
// an odd last row/column is dropped and receives zero gradient).
struct PoolShape {
  int batch = 1, channels = 1, height = 2, width = 2;
  int out_height() const { return height / 2; }
  int out_width() const { return width / 2; }
  void check() const {
    SXB_REQUIRE(batch > 0 && channels > 0 && height >= 2 && width >= 2,
                "max_pool2x2: input must be at least 2x2");
  }
};

// Fully connected layer: y [N, out] = x [N, in] * weight^T + bias.
struct LinearShape {
  int batch = 1, in_features = 1, out_features = 1;
  void check() const {
    SXB_REQUIRE(batch > 0 && in_features > 0 && out_features > 0, "linear: sizes must be positive");
  }
};

// SGD with momentum, PyTorch semantics (dampening 0):
//   d = g + weight_decay * p;  buf = momentum * buf + d;
//   p -= lr * (nesterov ? d + momentum * buf : buf)      (momentum > 0)
//   p -= lr * d                                          (momentum = 0)
// The momentum buffer starts at zero, which equals PyTorch's first step
// (buf = d) because dampening is 0.
struct SgdParams {
  float lr = 0.1f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

struct LossResult {
  double loss = 0.0;  // mean cross-entropy over the batch
  int correct = 0;    // samples whose arg-max logit (first on ties) equals the label
};

// What an inference (eval-mode) convolution applies to each output value v of
// channel k, in this order, before it is stored: v + bias[k]; then, with
// batch-norm, v * scale[k] + shift[k] (the running statistics as
// batch_norm_eval_affine computes them); then max(v, 0) with relu; then, with
// pool, the 2x2 max-pool of max_pool2x2_forward (stride 2, floor, first of
// equal maxima, a NaN wins), so y is [N, K, Ho/2, Wo/2]. The weights are
// never changed: batch-norm stays a digital per-channel step after the product.
struct ConvEpilogue {
  const float* bias = nullptr;   // [K], may be null
  const float* scale = nullptr;  // [K], may be null (no batch-norm); then shift is unused
  const float* shift = nullptr;  // [K]
  bool relu = false;
  bool pool = false;  // needs Ho, Wo >= 2
};

// --- Dropout mask: part of the contract, identical on every backend --------
// Element `index` of the tensor dropped at training step `step` is kept iff
// (rng::counter_hash(seed, step, index) >> 32) >= dropout_threshold(p). The
// mask depends on nothing else (not on thread count, tiling or backend), so
// the backward pass regenerates it instead of storing it.
// p in [0, 1] -> threshold in [0, 2^32]; p = 1 drops everything.
constexpr std::uint64_t dropout_threshold(float p) {
  const double t = static_cast<double>(p) * 4294967296.0;
  return t <= 0.0 ? 0 : t >= 4294967296.0 ? 4294967296ULL : static_cast<std::uint64_t>(t + 0.5);
}
constexpr bool dropout_keeps(std::uint64_t seed, std::uint64_t step, std::uint64_t index, float p) {
  return (rng::counter_hash(seed, step, index) >> 32) >= dropout_threshold(p);
}

// A weight matrix [rows, cols] in CSR form: row r holds the entries
// row_ptr[r] .. row_ptr[r+1]-1 of col_idx/values, column indices ascending.
// Every output is a serial sum over its row's entries in that order, so the
// result does not depend on the thread count.
struct CsrView {
  int rows = 0, cols = 0;
  std::size_t nnz = 0;
  const std::int32_t* row_ptr = nullptr;  // [rows + 1]
  const std::int32_t* col_idx = nullptr;  // [nnz]
  const float* values = nullptr;          // [nnz]
};

}  // namespace sxb::nn

namespace sxb::nn::cpu {

// --- conv2d -----------------------------------------------------------------
// x [N,C,H,W], weight [K,C,kh,kw], bias [K] (may be null) -> y [N,K,Ho,Wo].
// The shapes conv2d_forward_eval runs through Winograd F(2,3) do so here too.
void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* y);

// dy [N,K,Ho,Wo] -> dx [N,C,H,W] (may be null), dweight [K,C,kh,kw],
// dbias [K] (may be null). Layers of the Winograd forward with at least
// kWinogradMinChannels output channels too run their backward through
// Winograd F(2,3): dx as the forward on the flipped, transposed kernels,
// dweight as 16 products in the transform domain; the others im2col + SGEMM.
void conv2d_backward(const Conv2dShape& s, const float* x, const float* weight, const float* dy, float* dx,
                     float* dweight, float* dbias);

// Whether conv2d_forward and conv2d_backward run the shapes above through
// Winograd F(2,3) (true, the default) or through im2col + SGEMM like every
// other shape (false). Process-wide: set it before a training, not while a
// kernel runs. The eval path (conv2d_forward_eval) does not depend on it.
void set_winograd_training(bool on);
bool winograd_training();

// The eval path (inference only): x [N,C,H,W], weight [K,C,kh,kw] ->
// y [N,K,Ho,Wo] (pooled: [N,K,Ho/2,Wo/2]) with the epilogue applied in the
// same pass that leaves the product. 3x3, stride 1, padding 1 layers with
// at least kWinogradMinChannels input channels and even output sizes use
// Winograd F(2,3) (16 products per 2x2 output tile instead of 36); the others
// im2col + SGEMM as conv2d_forward. Equal to conv2d_forward followed by the
// separate layers up to float rounding; bit-identical for any thread count.
inline constexpr int kWinogradMinChannels = 16;
void conv2d_forward_eval(const Conv2dShape& s, const float* x, const float* weight, const ConvEpilogue& e, float* y);

// --- batch_norm (2-d, per channel) ----------------------------------------------
// Train mode: normalises with the batch mean and biased variance;
// saved_mean [C] and saved_inv_std [C] = 1/sqrt(var + eps) are written for
// the backward pass. running_mean/running_var [C] (may be null, both or
// neither) are updated as r = (1 - momentum) r + momentum * stat with the
// UNBIASED variance, as PyTorch. In-place (y == x) is allowed.
void batch_norm_forward_train(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                              float eps, float momentum, float* running_mean, float* running_var, float* y,
                              float* saved_mean, float* saved_inv_std);

// Eval mode: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
// In-place (y == x) is allowed.
void batch_norm_forward_eval(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, float eps, float* y);

// The per-channel affine map of the eval-mode forward:
// scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale
// (in double, rounded to float), as batch_norm_forward_eval applies it.
void batch_norm_eval_affine(int channels, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, float eps, float* scale, float* shift);

// Backward of the train-mode forward (batch statistics depend on x):
// x, gamma and the saved statistics of that forward, dy -> dx (may be null),
// dgamma [C], dbeta [C].
void batch_norm_backward(const BatchNormShape& s, const float* x, const float* gamma, const float* saved_mean,
                         const float* saved_inv_std, const float* dy, float* dx, float* dgamma, float* dbeta);

// --- relu -------------------------------------------------------------------
// y = max(x, 0). In-place (y == x) is allowed.
void relu_forward(std::size_t n, const float* x, float* y);
// dx = dy where y > 0, else 0 (zero gradient at 0). `y` is the forward
// output (the input works too: y > 0 iff x > 0). In-place (dx == dy) is allowed.
void relu_backward(std::size_t n, const float* y, const float* dy, float* dx);

// --- max_pool 2x2, stride 2 -----------------------------------------------------
// x [N,C,H,W] -> y [N,C,H/2,W/2]; argmax [N,C,H/2,W/2] holds the winning
// input position inside its plane (h*W + w), as PyTorch's indices. Ties go to
// the first element in row-major window order (top-left, top-right,
// bottom-left, bottom-right); a NaN wins and propagates.
void max_pool2x2_forward(const PoolShape& s, const float* x, float* y, std::int32_t* argmax);
// dx [N,C,H,W]: dy routed to the argmax positions, zero elsewhere.
void max_pool2x2_backward(const PoolShape& s, const float* dy, const std::int32_t* argmax, float* dx);

// --- linear -----------------------------------------------------------------
// x [N,in], weight [out,in], bias [out] (may be null) -> y [N,out].
void linear_forward(const LinearShape& s, const float* x, const float* weight, const float* bias, float* y);
// dy [N,out] -> dx [N,in] (may be null), dweight [out,in], dbias [out] (may be null).
void linear_backward(const LinearShape& s, const float* x, const float* weight, const float* dy, float* dx,
                     float* dweight, float* dbias);

// --- sparse weights (inference) ---------------------------------------------
// conv2d_forward with the weight [K, C*kh*kw] as CSR.
void conv2d_forward_csr(const Conv2dShape& s, const float* x, const CsrView& weight, const float* bias, float* y);
// linear_forward with the weight [out, in] as CSR.
void linear_forward_csr(const LinearShape& s, const float* x, const CsrView& weight, const float* bias, float* y);

// --- dropout ----------------------------------------------------------------
// y[i] = dropout_keeps(seed, step, i, p) ? x[i] / (1 - p) : 0 (all zero for
// p = 1). In-place allowed. `p` in [0, 1].
void dropout_forward(std::size_t n, float p, std::uint64_t seed, std::uint64_t step, const float* x, float* y);
// dx[i] = the same mask and scale applied to dy[i]. In-place allowed.
void dropout_backward(std::size_t n, float p, std::uint64_t seed, std::uint64_t step, const float* dy, float* dx);

// --- softmax cross-entropy ------------------------------------------------------
// logits [N, classes], labels [N] in [0, classes) -> mean loss over the batch
// (log-sum-exp, in double) and correct predictions; dlogits [N, classes]
// (may be null) = d(mean loss)/d(logits) = (softmax - onehot) / N.
LossResult softmax_cross_entropy(int batch, int classes, const float* logits, const int* labels,
                                 float* dlogits);

// --- SGD --------------------------------------------------------------------
// One step over n parameters (see SgdParams). momentum_buf [n] may be null
// when momentum is 0. mask [n] (may be null = none): where mask[i] == 0 the
// parameter, its gradient and its momentum buffer are set to exactly 0.
void sgd_step(std::size_t n, const SgdParams& params, float* param, float* grad, float* momentum_buf,
              const std::uint8_t* mask);

// --- clamp ------------------------------------------------------------------
// In place: x[i] <- lo where x[i] < lo, hi where x[i] > hi (lo <= hi); a NaN
// stays NaN. Weight-constrained training (engine/crossbar/wct.h) clamps with it.
void clamp(std::size_t n, float lo, float hi, float* x);

}  // namespace sxb::nn::cpu
