// The backend interface of the neural-network engine: memory and the layer
// operations of kernels/nn/layers.h on Tensors. Models (models/vgg.h) and the
// trainer (engine/training/train.h) call only this interface, so they do not know
// which device runs them. The CPU backend forwards to sxb::nn::cpu; a GPU
// backend implements the same virtual functions on device tensors.
//
// Contract: as kernels/nn/layers.h (shapes, overwrite semantics, in-place
// rules, determinism). Shapes are checked by the caller (models/modules.cpp),
// so backends may assume valid input. A `const Tensor*` may be null where the
// kernel's pointer may be null.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/common/device_choice.h"
#include "kernels/nn/layers.h"
#include "kernels/nn/tile_product.h"
#include "models/tensor.h"

namespace sxb::nn {

// A weight held in CSR form on a backend, for inference (kernels/nn/layers.h
// CsrView): the [rows, cols] matrix of a conv ([K, C*kh*kw]) or linear
// ([out, in]) weight; row_ptr and col_idx I32, values F32.
struct SparseWeight {
  int rows = 0, cols = 0;
  Tensor row_ptr, col_idx, values;
  std::size_t nnz() const { return values.empty() ? 0 : values.numel(); }
};

// The eval path's convolution block (inference only): conv2d + bias, then
// batch-norm with running statistics (when gamma is set: all four tensors),
// ReLU and a 2x2 max-pool, each optional, in that order (ConvEpilogue of
// kernels/nn/layers.h).
struct ConvBlock {
  const Tensor* bias = nullptr;
  const Tensor *gamma = nullptr, *beta = nullptr, *running_mean = nullptr, *running_var = nullptr;
  float eps = 1e-5f;
  bool relu = false, pool = false;
};

// A mapped layer's tile pairs prepared on a backend (its weights and plan
// in the backend's memory), for tile_product().
class TileProductHandle {
 public:
  virtual ~TileProductHandle() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;      // "cpu", "cuda"
  virtual std::string describe() const = 0;  // one line: device and threads

  // --- memory ---------------------------------------------------------------
  virtual Tensor empty(std::vector<int> shape, DType dtype = DType::F32) = 0;  // uninitialised
  virtual void upload(const void* host, const Tensor& dst) = 0;                 // dst.bytes() bytes
  virtual void download(const Tensor& src, void* host) = 0;
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;  // same dtype and numel
  virtual void fill(const Tensor& dst, float value) = 0;        // F32 only

  // --- layers -----------------------------------------------------------------
  virtual void conv2d_forward(const Conv2dShape& s, const Tensor& x, const Tensor& weight, const Tensor* bias,
                              const Tensor& y) = 0;
  virtual void conv2d_backward(const Conv2dShape& s, const Tensor& x, const Tensor& weight, const Tensor& dy,
                               const Tensor* dx, const Tensor& dweight, const Tensor* dbias) = 0;
  virtual void batch_norm_forward_train(const BatchNormShape& s, const Tensor& x, const Tensor& gamma,
                                        const Tensor& beta, float eps, float momentum, const Tensor& running_mean,
                                        const Tensor& running_var, const Tensor& y, const Tensor& saved_mean,
                                        const Tensor& saved_inv_std) = 0;
  virtual void batch_norm_forward_eval(const BatchNormShape& s, const Tensor& x, const Tensor& gamma,
                                       const Tensor& beta, const Tensor& running_mean, const Tensor& running_var,
                                       float eps, const Tensor& y) = 0;
  virtual void batch_norm_backward(const BatchNormShape& s, const Tensor& x, const Tensor& gamma,
                                   const Tensor& saved_mean, const Tensor& saved_inv_std, const Tensor& dy,
                                   const Tensor* dx, const Tensor& dgamma, const Tensor& dbeta) = 0;
  virtual void relu_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) = 0;
  virtual void max_pool2x2_forward(const PoolShape& s, const Tensor& x, const Tensor& y, const Tensor& argmax) = 0;
  virtual void max_pool2x2_backward(const PoolShape& s, const Tensor& dy, const Tensor& argmax,
                                    const Tensor& dx) = 0;
  virtual void linear_forward(const LinearShape& s, const Tensor& x, const Tensor& weight, const Tensor* bias,
                              const Tensor& y) = 0;
  virtual void linear_backward(const LinearShape& s, const Tensor& x, const Tensor& weight, const Tensor& dy,
                               const Tensor* dx, const Tensor& dweight, const Tensor* dbias) = 0;
  // Inference with a CSR weight (the result equals the dense forward with
  // that weight up to float rounding).
  virtual void conv2d_forward_sparse(const Conv2dShape& s, const Tensor& x, const SparseWeight& weight,
                                     const Tensor* bias, const Tensor& y) = 0;
  virtual void linear_forward_sparse(const LinearShape& s, const Tensor& x, const SparseWeight& weight,
                                     const Tensor* bias, const Tensor& y) = 0;
  // y [N, K, Ho, Wo] ([N, K, Ho/2, Wo/2] with pool) = the block applied to
  // x; equal to the layer operations one after another up to float rounding.
  // The default runs them one after another (models/nn_backend_eval.cpp).
  virtual void conv2d_block_eval(const Conv2dShape& s, const Tensor& x, const Tensor& weight, const ConvBlock& block,
                                 const Tensor& y);
  virtual void dropout_forward(float p, std::uint64_t seed, std::uint64_t step, const Tensor& x,
                               const Tensor& y) = 0;
  virtual void dropout_backward(float p, std::uint64_t seed, std::uint64_t step, const Tensor& dy,
                                const Tensor& dx) = 0;
  // logits [N, classes] F32, labels [N] I32; dlogits may be null.
  virtual LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor* dlogits) = 0;
  // momentum_buf and mask (U8) may be null.
  virtual void sgd_step(const SgdParams& p, const Tensor& param, const Tensor& grad, const Tensor* momentum_buf,
                        const Tensor* mask) = 0;
  // In place: every element of `t` (F32) into [lo, hi]; a NaN stays NaN.
  virtual void clamp(const Tensor& t, float lo, float hi) = 0;

  // --- the tile-level product of the peripheral converters (kernels/nn/tile_product.h)
  // Null when the backend has no path of its own: the caller (engine/converters)
  // then computes the product on the host. The CUDA backend has one.
  virtual std::unique_ptr<TileProductHandle> prepare_tile_product(const TileProductLayer& /*layer*/) {
    return nullptr;
  }
  // y = the layer's tile-level product of x plus bias (may be null); x and y
  // as a conv (conv set, batch conv->batch) or linear ([batch, inputs]) layer's.
  virtual TileProductCounts tile_product(const TileProductHandle& layer, const TileConverters& c,
                                         const Conv2dShape* conv, int batch, const Tensor& x, const Tensor* bias,
                                         const Tensor& y);
};

std::unique_ptr<Backend> make_cpu_backend();

// The CUDA backend (models/nn_backend_cuda.cpp): tensors in device memory of
// one GPU, cuBLAS for the GEMMs, every operation on one stream owned by the
// backend; download() and softmax_cross_entropy() (for its result) wait for
// the stream, nothing else does. Throws sxb::Error with the reason when no
// usable GPU is present or the build has no CUDA. Not thread-safe: one thread
// at a time.
std::unique_ptr<Backend> make_cuda_backend();
// The network engine's capability probe: whether make_cuda_backend() can
// succeed (a GPU, kernels/common/gpu_info.h, and an image of the network
// kernels for it; independent of the tile solver's kernel). If not and
// `reason` is given, why.
bool cuda_nn_available(std::string* reason = nullptr);
CudaCapability cuda_nn_capability();
// Cpu, Cuda or Auto (Cuda when cuda_nn_available(), else Cpu).
std::unique_ptr<Backend> make_backend(Device device);
// "cpu", "cuda" or "auto" (the `device` key / --device); other names are an Error.
std::unique_ptr<Backend> make_backend(const std::string& device);

// The non-zero entries of the row-major [rows, cols] host matrix `dense` as
// a SparseWeight on `b` (column indices ascending within each row).
SparseWeight sparse_from_dense(Backend& b, const float* dense, int rows, int cols);

// Host copies (convenience over upload/download).
std::vector<float> to_host(Backend& b, const Tensor& t);
Tensor from_host(Backend& b, std::vector<int> shape, const std::vector<float>& values);

}  // namespace sxb::nn
