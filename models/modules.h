// Layers with parameters and state, as PyTorch's nn modules: Conv2d,
// BatchNorm2d, ReLU, MaxPool2d(2, 2), Dropout and Linear. Each module owns its
// output and input-gradient tensors (reallocated when the batch size changes)
// and keeps what its backward pass needs from the last train-mode forward.
// Modules run on an nn::Backend and check shapes before calling it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/nn_backend.h"

namespace sxb::nn {

// A trained tensor. grad and momentum are allocated by Module::prepare_training.
struct Parameter {
  std::string name;  // state-dict name, e.g. "features.0.weight"
  Tensor value, grad, momentum;
  // Optional U8 mask of value's shape: where it is 0 the optimizer holds the
  // parameter (and its momentum) at exactly 0 (nn::SgdParams / sgd_step).
  Tensor mask;
};

// Saved, not trained: running statistics, or a host-side count (PyTorch's
// num_batches_tracked, saved as an I64 scalar).
struct Buffer {
  std::string name;
  Tensor value;           // F32 tensor, empty for a count
  bool is_count = false;  // then `count` is the state
  std::int64_t count = 0;
};

enum class Mode { Train, Eval };

struct ForwardContext {
  Mode mode = Mode::Eval;
  std::uint64_t seed = 0;  // dropout masks depend on (seed, step) only
  std::uint64_t step = 0;
};

// Called by every Conv2d/Linear forward with the layer's name ("features.0",
// "classifier") and its weight; a returned tensor of the same shape is used
// instead of the weight in that forward and in the input gradient of its
// backward (the weight gradient still goes to the stored weight: a
// straight-through estimator). std::nullopt keeps the stored weight.
using WeightHook = std::function<std::optional<Tensor>(const std::string& layer, const Tensor& weight)>;

// Called by every Conv2d/Linear forward in eval mode with the layer's name;
// a returned CSR weight ([out, in * k * k]) replaces the weight, and any
// WeightHook, in that forward, which then runs the backend's sparse product
// (inference only). Null keeps the dense path.
using SparseWeightHook = std::function<const SparseWeight*(const std::string& layer)>;

// Called by every Conv2d/Linear forward before the weight hooks' product,
// with the layer's name and its call: a hook that returns true has written
// y (bias included) itself. The weight hook's weight still serves the input
// gradient of a train-mode backward (a straight-through estimator). The eval
// path's fused conv block is not used while a product hook is set.
struct LayerProduct {
  const std::string& layer;
  const Tensor& x;             // the layer's input as the forward got it
  const Conv2dShape* conv;     // set for a conv layer
  const LinearShape* linear;   // set for a linear layer (x read as [N, in])
  const Tensor* bias;
  const Tensor& y;             // [N, out, Ho, Wo] or [N, out]
};
using ProductHook = std::function<bool(const LayerProduct& call)>;

struct LayerHooks {
  WeightHook weight;
  SparseWeightHook sparse;
  ProductHook product;
};

// Reallocates `t` unless it already has `shape` and `dtype`.
void ensure_shape(Backend& b, Tensor& t, const std::vector<int>& shape, DType dtype = DType::F32);

// t[i] = bound * (2u - 1), u = rng::unit_uniform24(rng::counter_hash(seed, stream, i)).
void fill_uniform(Backend& b, const Tensor& t, double bound, std::uint64_t seed, std::uint64_t stream);

class Module {
 public:
  Module(Backend& backend, std::string name) : backend_(backend), name_(std::move(name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& name() const { return name_; }
  // The returned tensor stays valid until the next forward.
  virtual const Tensor& forward(const Tensor& x, const ForwardContext& ctx) = 0;
  // dy: gradient of the last (train-mode) forward's output. Writes parameter
  // gradients; returns the input gradient, or an empty tensor if !need_dx.
  virtual Tensor backward(const Tensor& dy, bool need_dx) = 0;
  virtual std::vector<Parameter*> parameters() { return {}; }
  virtual std::vector<Buffer*> buffers() { return {}; }
  // Allocates gradients and zero momentum buffers of every parameter.
  void prepare_training();
  // PyTorch's default initialisation of the module's parameters and buffers;
  // random values are counter-based draws from (seed, stream, element).
  virtual void reset_parameters(std::uint64_t /*seed*/, std::uint64_t /*stream*/) {}

 protected:
  Backend& backend_;
  std::string name_;
};

// A layer with a weight and a bias that the hooks can replace (conv2d,
// linear): the part of the forward and backward they share.
class WeightLayer : public Module {
 public:
  std::vector<Parameter*> parameters() override { return {&weight_, &bias_}; }

 protected:
  // `weight_shape` without the bias; the weight is used as a [rows, cols] matrix.
  WeightLayer(Backend& b, std::string name, const std::vector<int>& weight_shape, const LayerHooks* hooks);
  // y_ from `input` (x as the backend reads it): sparse(SparseWeight) when the
  // sparse hook gives a weight for an eval-mode forward, otherwise
  // dense(weight) with the weight hook's replacement or the stored weight.
  // Keeps x for the backward of a train-mode forward.
  // The product hook, given `call`, comes first.
  template <class Dense, class Sparse>
  const Tensor& forward_with_hooks(const Tensor& x, const ForwardContext& ctx, int rows, int cols, Dense dense,
                                   Sparse sparse, const LayerProduct* call = nullptr);
  // Checks that a backward may run and sizes dx_ (when needed) like x.
  void prepare_backward(const Tensor& dy, bool need_dx);

  const LayerHooks* hooks_;
  Parameter weight_, bias_;
  Tensor x_, used_weight_, y_, dx_;
};

class BatchNorm2d;

class Conv2d final : public WeightLayer {
 public:
  // kernel x kernel, stride 1, zero padding `padding`, with bias.
  Conv2d(Backend& b, std::string name, int in_channels, int out_channels, int kernel, int padding,
         const LayerHooks* hooks);
  const Tensor& forward(const Tensor& x, const ForwardContext& ctx) override;
  Tensor backward(const Tensor& dy, bool need_dx) override;
  // weight and bias uniform in +-1/sqrt(in * kernel^2) (kaiming_uniform, a = sqrt(5)).
  void reset_parameters(std::uint64_t seed, std::uint64_t stream) override;
  // The eval path: this layer, then `bn` (eval mode), ReLU and, with `pool`,
  // a 2x2 max-pool as one backend block (Backend::conv2d_block_eval), with
  // the weight hook's weight. Null when the sparse hook gives a weight (the
  // caller then runs the layers one by one). Valid until the next forward.
  const Tensor* forward_block_eval(const Tensor& x, const BatchNorm2d& bn, bool pool);

 private:
  void check_input(const Tensor& x) const;
  int in_, out_, kernel_, padding_;
  Conv2dShape shape_;
  Tensor block_y_;
};

class BatchNorm2d final : public Module {
 public:
  BatchNorm2d(Backend& b, std::string name, int channels, float eps = 1e-5f, float momentum = 0.1f);
  const Tensor& forward(const Tensor& x, const ForwardContext& ctx) override;
  Tensor backward(const Tensor& dy, bool need_dx) override;
  std::vector<Parameter*> parameters() override { return {&weight_, &bias_}; }
  std::vector<Buffer*> buffers() override { return {&running_mean_, &running_var_, &num_batches_tracked_}; }
  // weight 1, bias 0, running mean 0, running var 1, count 0.
  void reset_parameters(std::uint64_t seed, std::uint64_t stream) override;
  // The eval-mode normalisation as a ConvBlock stage (running statistics).
  void eval_stage(ConvBlock& block) const;

 private:
  int channels_;
  float eps_, momentum_;
  Parameter weight_, bias_;
  Buffer running_mean_, running_var_, num_batches_tracked_;
  BatchNormShape shape_;
  Tensor x_, y_, saved_mean_, saved_inv_std_, dx_;
};

// In place: the output is the input tensor.
class ReLU final : public Module {
 public:
  ReLU(Backend& b, std::string name) : Module(b, std::move(name)) {}
  const Tensor& forward(const Tensor& x, const ForwardContext& ctx) override;
  Tensor backward(const Tensor& dy, bool need_dx) override;

 private:
  Tensor y_, dx_;
};

class MaxPool2d final : public Module {
 public:
  MaxPool2d(Backend& b, std::string name) : Module(b, std::move(name)) {}
  const Tensor& forward(const Tensor& x, const ForwardContext& ctx) override;
  Tensor backward(const Tensor& dy, bool need_dx) override;

 private:
  PoolShape shape_;
  Tensor y_, argmax_, dx_;
};

// Identity in eval mode or for p = 0.
class Dropout final : public Module {
 public:
  Dropout(Backend& b, std::string name, float p);
  const Tensor& forward(const Tensor& x, const ForwardContext& ctx) override;
  Tensor backward(const Tensor& dy, bool need_dx) override;

 private:
  float p_;
  ForwardContext ctx_;
  Tensor x_, y_, dx_;
};

// Input [N, ...] is read as [N, in_features] (flattened, as x.view(N, -1)).
class Linear final : public WeightLayer {
 public:
  Linear(Backend& b, std::string name, int in_features, int out_features, const LayerHooks* hooks);
  const Tensor& forward(const Tensor& x, const ForwardContext& ctx) override;
  Tensor backward(const Tensor& dy, bool need_dx) override;
  // weight and bias uniform in +-1/sqrt(in_features).
  void reset_parameters(std::uint64_t seed, std::uint64_t stream) override;

 private:
  int in_, out_;
  LinearShape shape_;
  Tensor input_;
};

}  // namespace sxb::nn
