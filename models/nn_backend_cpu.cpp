// The CPU backend of the neural-network engine: host memory, layer kernels
// from kernels/nn/layers.h (sxb::nn::cpu).
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <vector>
#include <cstdlib>
#include <cstring>

#include "models/nn_backend.h"

namespace sxb::nn {
namespace {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  std::string describe() const override { return "CPU, " + std::to_string(omp_get_max_threads()) + " threads"; }

  Tensor empty(std::vector<int> shape, DType dtype) override {
    std::size_t n = 1;
    for (int d : shape) n *= static_cast<std::size_t>(std::max(d, 0));
    // 64-byte aligned, at least one element so the handle is never null.
    const std::size_t bytes = (std::max<std::size_t>(n * dtype_size(dtype), 1) + 63) / 64 * 64;
    std::shared_ptr<void> storage(std::aligned_alloc(64, bytes), [](void* p) { std::free(p); });
    SXB_REQUIRE(storage, "out of memory allocating " + std::to_string(bytes) + " bytes");
    return Tensor(std::move(shape), dtype, std::move(storage));
  }
  void upload(const void* host, const Tensor& dst) override {
    if (dst.bytes()) std::memcpy(dst.data<void>(), host, dst.bytes());
  }
  void download(const Tensor& src, void* host) override {
    if (src.bytes()) std::memcpy(host, src.data<void>(), src.bytes());
  }
  void copy(const Tensor& src, const Tensor& dst) override {
    if (src.bytes() && src.data<void>() != dst.data<void>()) std::memcpy(dst.data<void>(), src.data<void>(), src.bytes());
  }
  void fill(const Tensor& dst, float value) override {
    std::fill(dst.data<float>(), dst.data<float>() + dst.numel(), value);
  }

  void conv2d_forward(const Conv2dShape& s, const Tensor& x, const Tensor& weight, const Tensor* bias,
                      const Tensor& y) override {
    cpu::conv2d_forward(s, x.data<float>(), weight.data<float>(), f32(bias), y.data<float>());
  }
  void conv2d_backward(const Conv2dShape& s, const Tensor& x, const Tensor& weight, const Tensor& dy,
                       const Tensor* dx, const Tensor& dweight, const Tensor* dbias) override {
    cpu::conv2d_backward(s, x.data<float>(), weight.data<float>(), dy.data<float>(), f32(dx), dweight.data<float>(),
                         f32(dbias));
  }
  void batch_norm_forward_train(const BatchNormShape& s, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                float eps, float momentum, const Tensor& running_mean, const Tensor& running_var,
                                const Tensor& y, const Tensor& saved_mean, const Tensor& saved_inv_std) override {
    cpu::batch_norm_forward_train(s, x.data<float>(), gamma.data<float>(), beta.data<float>(), eps, momentum,
                                  running_mean.data<float>(), running_var.data<float>(), y.data<float>(),
                                  saved_mean.data<float>(), saved_inv_std.data<float>());
  }
  void batch_norm_forward_eval(const BatchNormShape& s, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                               const Tensor& running_mean, const Tensor& running_var, float eps,
                               const Tensor& y) override {
    cpu::batch_norm_forward_eval(s, x.data<float>(), gamma.data<float>(), beta.data<float>(),
                                 running_mean.data<float>(), running_var.data<float>(), eps, y.data<float>());
  }
  void batch_norm_backward(const BatchNormShape& s, const Tensor& x, const Tensor& gamma, const Tensor& saved_mean,
                           const Tensor& saved_inv_std, const Tensor& dy, const Tensor* dx, const Tensor& dgamma,
                           const Tensor& dbeta) override {
    cpu::batch_norm_backward(s, x.data<float>(), gamma.data<float>(), saved_mean.data<float>(),
                             saved_inv_std.data<float>(), dy.data<float>(), f32(dx), dgamma.data<float>(),
                             dbeta.data<float>());
  }
  void relu_forward(const Tensor& x, const Tensor& y) override {
    cpu::relu_forward(x.numel(), x.data<float>(), y.data<float>());
  }
  void relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) override {
    cpu::relu_backward(y.numel(), y.data<float>(), dy.data<float>(), dx.data<float>());
  }
  void max_pool2x2_forward(const PoolShape& s, const Tensor& x, const Tensor& y, const Tensor& argmax) override {
    cpu::max_pool2x2_forward(s, x.data<float>(), y.data<float>(), argmax.data<std::int32_t>());
  }
  void max_pool2x2_backward(const PoolShape& s, const Tensor& dy, const Tensor& argmax, const Tensor& dx) override {
    cpu::max_pool2x2_backward(s, dy.data<float>(), argmax.data<std::int32_t>(), dx.data<float>());
  }
  void linear_forward(const LinearShape& s, const Tensor& x, const Tensor& weight, const Tensor* bias,
                      const Tensor& y) override {
    cpu::linear_forward(s, x.data<float>(), weight.data<float>(), f32(bias), y.data<float>());
  }
  void linear_backward(const LinearShape& s, const Tensor& x, const Tensor& weight, const Tensor& dy,
                       const Tensor* dx, const Tensor& dweight, const Tensor* dbias) override {
    cpu::linear_backward(s, x.data<float>(), weight.data<float>(), dy.data<float>(), f32(dx), dweight.data<float>(),
                         f32(dbias));
  }
  void conv2d_forward_sparse(const Conv2dShape& s, const Tensor& x, const SparseWeight& weight, const Tensor* bias,
                             const Tensor& y) override {
    cpu::conv2d_forward_csr(s, x.data<float>(), view(weight), f32(bias), y.data<float>());
  }
  void linear_forward_sparse(const LinearShape& s, const Tensor& x, const SparseWeight& weight, const Tensor* bias,
                             const Tensor& y) override {
    cpu::linear_forward_csr(s, x.data<float>(), view(weight), f32(bias), y.data<float>());
  }
  void conv2d_block_eval(const Conv2dShape& s, const Tensor& x, const Tensor& weight, const ConvBlock& block,
                         const Tensor& y) override {
    ConvEpilogue e;
    e.bias = f32(block.bias);
    e.relu = block.relu;
    e.pool = block.pool;
    std::vector<float> affine;
    if (block.gamma) {
      affine.resize(2 * static_cast<std::size_t>(s.out_channels));
      cpu::batch_norm_eval_affine(s.out_channels, block.gamma->data<float>(), block.beta->data<float>(),
                                  block.running_mean->data<float>(), block.running_var->data<float>(), block.eps,
                                  affine.data(), affine.data() + s.out_channels);
      e.scale = affine.data();
      e.shift = affine.data() + s.out_channels;
    }
    cpu::conv2d_forward_eval(s, x.data<float>(), weight.data<float>(), e, y.data<float>());
  }
  void dropout_forward(float p, std::uint64_t seed, std::uint64_t step, const Tensor& x, const Tensor& y) override {
    cpu::dropout_forward(x.numel(), p, seed, step, x.data<float>(), y.data<float>());
  }
  void dropout_backward(float p, std::uint64_t seed, std::uint64_t step, const Tensor& dy,
                        const Tensor& dx) override {
    cpu::dropout_backward(dy.numel(), p, seed, step, dy.data<float>(), dx.data<float>());
  }
  LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor* dlogits) override {
    return cpu::softmax_cross_entropy(logits.dim(0), logits.dim(1), logits.data<float>(),
                                      labels.data<std::int32_t>(), f32(dlogits));
  }
  void sgd_step(const SgdParams& p, const Tensor& param, const Tensor& grad, const Tensor* momentum_buf,
                const Tensor* mask) override {
    cpu::sgd_step(param.numel(), p, param.data<float>(), grad.data<float>(), f32(momentum_buf),
                  mask ? mask->data<std::uint8_t>() : nullptr);
  }
  void clamp(const Tensor& t, float lo, float hi) override { cpu::clamp(t.numel(), lo, hi, t.data<float>()); }

 private:
  static float* f32(const Tensor* t) { return t ? t->data<float>() : nullptr; }
  static CsrView view(const SparseWeight& w) {
    return {w.rows, w.cols, w.nnz(), w.row_ptr.data<std::int32_t>(), w.col_idx.data<std::int32_t>(), w.values.data<float>()};
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

std::vector<float> to_host(Backend& b, const Tensor& t) {
  SXB_REQUIRE(t.dtype() == DType::F32, "to_host: tensor is not F32");
  std::vector<float> out(t.numel());
  b.download(t, out.data());
  return out;
}

SparseWeight sparse_from_dense(Backend& b, const float* dense, int rows, int cols) {
  std::vector<std::int32_t> row_ptr(static_cast<std::size_t>(rows) + 1, 0), col_idx;
  std::vector<float> values;
  for (int r = 0; r < rows; ++r) {
    const float* row = dense + static_cast<std::size_t>(r) * cols;
    for (int c = 0; c < cols; ++c)
      if (row[c] != 0.0f) {
        col_idx.push_back(c);
        values.push_back(row[c]);
      }
    SXB_REQUIRE(values.size() <= static_cast<std::size_t>(INT32_MAX), "sparse_from_dense: too many non-zeros");
    row_ptr[static_cast<std::size_t>(r) + 1] = static_cast<std::int32_t>(values.size());
  }
  SparseWeight w;
  w.rows = rows;
  w.cols = cols;
  w.row_ptr = b.empty({rows + 1}, DType::I32);
  b.upload(row_ptr.data(), w.row_ptr);
  const int nnz = static_cast<int>(values.size());
  w.col_idx = b.empty({nnz}, DType::I32);
  w.values = b.empty({nnz}, DType::F32);
  if (nnz) {
    b.upload(col_idx.data(), w.col_idx);
    b.upload(values.data(), w.values);
  }
  return w;
}

Tensor from_host(Backend& b, std::vector<int> shape, const std::vector<float>& values) {
  Tensor t = b.empty(std::move(shape), DType::F32);
  SXB_REQUIRE(values.size() == t.numel(), "from_host: " + std::to_string(values.size()) +
                                              " values for shape " + t.shape_string());
  b.upload(values.data(), t);
  return t;
}

}  // namespace sxb::nn
