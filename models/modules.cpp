#include "models/modules.h"

#include <fmt/format.h>

#include <cmath>

namespace sxb::nn {
namespace {

Parameter make_parameter(Backend& b, const std::string& name, std::vector<int> shape, float value) {
  Parameter p;
  p.name = name;
  p.value = b.empty(std::move(shape));
  b.fill(p.value, value);
  return p;
}

Buffer make_buffer(Backend& b, const std::string& name, int size, float value) {
  Buffer buf;
  buf.name = name;
  buf.value = b.empty({size});
  b.fill(buf.value, value);
  return buf;
}

// The hook's replacement weight, or the stored one.
Tensor weight_for_forward(const LayerHooks* hooks, const std::string& layer, const Tensor& weight) {
  if (!hooks || !hooks->weight) return weight;
  std::optional<Tensor> replaced = hooks->weight(layer, weight);
  if (!replaced) return weight;
  SXB_REQUIRE(replaced->shape() == weight.shape() && replaced->dtype() == DType::F32,
              fmt::format("{}: the weight hook returned a tensor of shape {}, the weight is {}", layer,
                          replaced->shape_string(), weight.shape_string()));
  return *replaced;
}

// The sparse hook's weight for an eval-mode forward, checked against [rows, cols]; else null.
const SparseWeight* sparse_weight_for_forward(const LayerHooks* hooks, const std::string& layer, const ForwardContext& ctx,
                                              int rows, int cols) {
  if (!hooks || !hooks->sparse || ctx.mode != Mode::Eval) return nullptr;
  const SparseWeight* w = hooks->sparse(layer);
  SXB_REQUIRE(!w || (w->rows == rows && w->cols == cols),
              fmt::format("{}: the sparse weight hook returned a {} x {} matrix, the weight is {} x {}", layer,
                          w ? w->rows : 0, w ? w->cols : 0, rows, cols));
  return w;
}

void require_trained(const Tensor& x, const std::string& name) {
  SXB_REQUIRE(!x.empty(), name + ": backward without a train-mode forward");
}

}  // namespace

void ensure_shape(Backend& b, Tensor& t, const std::vector<int>& shape, DType dtype) {
  if (t.empty() || t.shape() != shape || t.dtype() != dtype) t = b.empty(shape, dtype);
}

void fill_uniform(Backend& b, const Tensor& t, double bound, std::uint64_t seed, std::uint64_t stream) {
  std::vector<float> values(t.numel());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double u = rng::unit_uniform24(rng::counter_hash(seed, stream, i));  // [0, 1)
    values[i] = static_cast<float>(bound * (2.0 * u - 1.0));
  }
  b.upload(values.data(), t);
}

void Module::prepare_training() {
  for (Parameter* p : parameters()) {
    if (p->grad.empty()) {
      p->grad = backend_.empty(p->value.shape());
      backend_.fill(p->grad, 0.0f);
    }
    if (p->momentum.empty()) {
      p->momentum = backend_.empty(p->value.shape());
      backend_.fill(p->momentum, 0.0f);
    }
  }
}

// --- WeightLayer (conv2d, linear) -------------------------------------------

WeightLayer::WeightLayer(Backend& b, std::string name, const std::vector<int>& weight_shape, const LayerHooks* hooks)
    : Module(b, std::move(name)), hooks_(hooks) {
  weight_ = make_parameter(b, name_ + ".weight", weight_shape, 0.0f);
  bias_ = make_parameter(b, name_ + ".bias", {weight_shape[0]}, 0.0f);
}

template <class Dense, class Sparse>
const Tensor& WeightLayer::forward_with_hooks(const Tensor& x, const ForwardContext& ctx, int rows, int cols,
                                              Dense dense, Sparse sparse, const LayerProduct* call) {
  if (call && hooks_ && hooks_->product && hooks_->product(*call)) {
    used_weight_ = weight_for_forward(hooks_, name_, weight_.value);
    x_ = ctx.mode == Mode::Train ? x : Tensor();
    return y_;
  }
  if (const SparseWeight* w = sparse_weight_for_forward(hooks_, name_, ctx, rows, cols)) {
    sparse(*w);
    used_weight_ = x_ = Tensor();
    return y_;
  }
  used_weight_ = weight_for_forward(hooks_, name_, weight_.value);
  dense(used_weight_);
  x_ = ctx.mode == Mode::Train ? x : Tensor();
  return y_;
}

void WeightLayer::prepare_backward(const Tensor& dy, bool need_dx) {
  require_trained(x_, name_);
  SXB_REQUIRE(!weight_.grad.empty(), name_ + ": gradients not allocated (prepare_training)");
  SXB_REQUIRE(dy.numel() == y_.numel(), name_ + ": output gradient has the wrong size");
  if (need_dx) ensure_shape(backend_, dx_, x_.shape());
}

// --- Conv2d ---------------------------------------------------------------------

Conv2d::Conv2d(Backend& b, std::string name, int in_channels, int out_channels, int kernel, int padding,
               const LayerHooks* hooks)
    : WeightLayer(b, std::move(name), {out_channels, in_channels, kernel, kernel}, hooks), in_(in_channels),
      out_(out_channels), kernel_(kernel), padding_(padding) {}

void Conv2d::reset_parameters(std::uint64_t seed, std::uint64_t stream) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_) * kernel_ * kernel_);
  fill_uniform(backend_, weight_.value, bound, seed, 2 * stream);
  fill_uniform(backend_, bias_.value, bound, seed, 2 * stream + 1);
}

void Conv2d::check_input(const Tensor& x) const {
  SXB_REQUIRE(x.rank() == 4 && x.dim(1) == in_,
              fmt::format("{}: input {} does not have {} channels (N, C, H, W)", name_, x.shape_string(), in_));
}

const Tensor* Conv2d::forward_block_eval(const Tensor& x, const BatchNorm2d& bn, bool pool) {
  const ForwardContext eval{Mode::Eval};
  if (hooks_ && hooks_->product) return nullptr;
  if (sparse_weight_for_forward(hooks_, name_, eval, out_, in_ * kernel_ * kernel_)) return nullptr;
  check_input(x);
  const Conv2dShape s{x.dim(0), in_, x.dim(2), x.dim(3), out_, kernel_, kernel_, padding_, 1};
  s.check();
  const int Ho = s.out_height(), Wo = s.out_width();
  if (pool) PoolShape{s.batch, out_, Ho, Wo}.check();
  ensure_shape(backend_, block_y_, pool ? std::vector<int>{s.batch, out_, Ho / 2, Wo / 2} : std::vector<int>{s.batch, out_, Ho, Wo});
  ConvBlock block;
  block.bias = &bias_.value;
  bn.eval_stage(block);
  block.relu = true;
  block.pool = pool;
  const Tensor w = weight_for_forward(hooks_, name_, weight_.value);
  backend_.conv2d_block_eval(s, x, w, block, block_y_);
  x_ = used_weight_ = Tensor();  // no backward after an eval forward
  return &block_y_;
}

const Tensor& Conv2d::forward(const Tensor& x, const ForwardContext& ctx) {
  check_input(x);
  shape_ = Conv2dShape{x.dim(0), in_, x.dim(2), x.dim(3), out_, kernel_, kernel_, padding_, 1};
  shape_.check();
  ensure_shape(backend_, y_, {shape_.batch, out_, shape_.out_height(), shape_.out_width()});
  const LayerProduct call{name_, x, &shape_, nullptr, &bias_.value, y_};
  return forward_with_hooks(
      x, ctx, out_, in_ * kernel_ * kernel_,
      [&](const Tensor& w) { backend_.conv2d_forward(shape_, x, w, &bias_.value, y_); },
      [&](const SparseWeight& w) { backend_.conv2d_forward_sparse(shape_, x, w, &bias_.value, y_); }, &call);
}

Tensor Conv2d::backward(const Tensor& dy, bool need_dx) {
  prepare_backward(dy, need_dx);
  backend_.conv2d_backward(shape_, x_, used_weight_, dy, need_dx ? &dx_ : nullptr, weight_.grad, &bias_.grad);
  return need_dx ? dx_ : Tensor();
}

// --- BatchNorm2d ----------------------------------------------------------------

BatchNorm2d::BatchNorm2d(Backend& b, std::string name, int channels, float eps, float momentum)
    : Module(b, std::move(name)), channels_(channels), eps_(eps), momentum_(momentum) {
  weight_ = make_parameter(b, name_ + ".weight", {channels}, 1.0f);
  bias_ = make_parameter(b, name_ + ".bias", {channels}, 0.0f);
  running_mean_ = make_buffer(b, name_ + ".running_mean", channels, 0.0f);
  running_var_ = make_buffer(b, name_ + ".running_var", channels, 1.0f);
  num_batches_tracked_.name = name_ + ".num_batches_tracked";
  num_batches_tracked_.is_count = true;
}

void BatchNorm2d::reset_parameters(std::uint64_t, std::uint64_t) {
  backend_.fill(weight_.value, 1.0f);
  backend_.fill(bias_.value, 0.0f);
  backend_.fill(running_mean_.value, 0.0f);
  backend_.fill(running_var_.value, 1.0f);
  num_batches_tracked_.count = 0;
}

void BatchNorm2d::eval_stage(ConvBlock& block) const {
  block.gamma = &weight_.value;
  block.beta = &bias_.value;
  block.running_mean = &running_mean_.value;
  block.running_var = &running_var_.value;
  block.eps = eps_;
}

const Tensor& BatchNorm2d::forward(const Tensor& x, const ForwardContext& ctx) {
  SXB_REQUIRE(x.rank() == 4 && x.dim(1) == channels_,
              fmt::format("{}: input {} does not have {} channels", name_, x.shape_string(), channels_));
  const bool train = ctx.mode == Mode::Train;
  shape_ = BatchNormShape{x.dim(0), channels_, x.dim(2) * x.dim(3)};
  shape_.check(train);
  ensure_shape(backend_, y_, x.shape());
  if (train) {
    ensure_shape(backend_, saved_mean_, {channels_});
    ensure_shape(backend_, saved_inv_std_, {channels_});
    backend_.batch_norm_forward_train(shape_, x, weight_.value, bias_.value, eps_, momentum_, running_mean_.value,
                                      running_var_.value, y_, saved_mean_, saved_inv_std_);
    ++num_batches_tracked_.count;
    x_ = x;
  } else {
    backend_.batch_norm_forward_eval(shape_, x, weight_.value, bias_.value, running_mean_.value, running_var_.value,
                                     eps_, y_);
    x_ = Tensor();
  }
  return y_;
}

Tensor BatchNorm2d::backward(const Tensor& dy, bool need_dx) {
  require_trained(x_, name_);
  SXB_REQUIRE(!weight_.grad.empty(), name_ + ": gradients not allocated (prepare_training)");
  if (need_dx) ensure_shape(backend_, dx_, x_.shape());
  backend_.batch_norm_backward(shape_, x_, weight_.value, saved_mean_, saved_inv_std_, dy,
                               need_dx ? &dx_ : nullptr, weight_.grad, bias_.grad);
  return need_dx ? dx_ : Tensor();
}

// --- ReLU -----------------------------------------------------------------------

const Tensor& ReLU::forward(const Tensor& x, const ForwardContext&) {
  backend_.relu_forward(x, x);
  y_ = x;
  return y_;
}

Tensor ReLU::backward(const Tensor& dy, bool need_dx) {
  require_trained(y_, name_);
  if (!need_dx) return Tensor();
  ensure_shape(backend_, dx_, y_.shape());
  backend_.relu_backward(y_, dy, dx_);
  return dx_;
}

// --- MaxPool2d ------------------------------------------------------------------

const Tensor& MaxPool2d::forward(const Tensor& x, const ForwardContext&) {
  SXB_REQUIRE(x.rank() == 4, name_ + ": input " + x.shape_string() + " is not (N, C, H, W)");
  shape_ = PoolShape{x.dim(0), x.dim(1), x.dim(2), x.dim(3)};
  shape_.check();
  const std::vector<int> out = {shape_.batch, shape_.channels, shape_.out_height(), shape_.out_width()};
  ensure_shape(backend_, y_, out);
  ensure_shape(backend_, argmax_, out, DType::I32);
  backend_.max_pool2x2_forward(shape_, x, y_, argmax_);
  return y_;
}

Tensor MaxPool2d::backward(const Tensor& dy, bool need_dx) {
  require_trained(y_, name_);
  if (!need_dx) return Tensor();
  ensure_shape(backend_, dx_, {shape_.batch, shape_.channels, shape_.height, shape_.width});
  backend_.max_pool2x2_backward(shape_, dy, argmax_, dx_);
  return dx_;
}

// --- Dropout --------------------------------------------------------------------

Dropout::Dropout(Backend& b, std::string name, float p) : Module(b, std::move(name)), p_(p) {
  SXB_REQUIRE(p >= 0.0f && p < 1.0f, fmt::format("{}: dropout probability {} is not in [0, 1)", name_, p));
}

const Tensor& Dropout::forward(const Tensor& x, const ForwardContext& ctx) {
  ctx_ = ctx;
  x_ = x;
  if (ctx.mode != Mode::Train || p_ == 0.0f) return x_;
  ensure_shape(backend_, y_, x.shape());
  backend_.dropout_forward(p_, ctx.seed, ctx.step, x, y_);
  return y_;
}

Tensor Dropout::backward(const Tensor& dy, bool need_dx) {
  require_trained(x_, name_);
  if (!need_dx) return Tensor();
  if (p_ == 0.0f) return dy;
  ensure_shape(backend_, dx_, x_.shape());
  backend_.dropout_backward(p_, ctx_.seed, ctx_.step, dy, dx_);
  return dx_;
}

// --- Linear ---------------------------------------------------------------------

Linear::Linear(Backend& b, std::string name, int in_features, int out_features, const LayerHooks* hooks)
    : WeightLayer(b, std::move(name), {out_features, in_features}, hooks), in_(in_features), out_(out_features) {}

void Linear::reset_parameters(std::uint64_t seed, std::uint64_t stream) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_));
  fill_uniform(backend_, weight_.value, bound, seed, 2 * stream);
  fill_uniform(backend_, bias_.value, bound, seed, 2 * stream + 1);
}

const Tensor& Linear::forward(const Tensor& x, const ForwardContext& ctx) {
  SXB_REQUIRE(x.rank() >= 1 && x.dim(0) > 0 && x.numel() == static_cast<std::size_t>(x.dim(0)) * in_,
              fmt::format("{}: input {} does not flatten to (N, {})", name_, x.shape_string(), in_));
  shape_ = LinearShape{x.dim(0), in_, out_};
  shape_.check();
  input_ = x.reshaped({shape_.batch, in_});
  ensure_shape(backend_, y_, {shape_.batch, out_});
  const LayerProduct call{name_, input_, nullptr, &shape_, &bias_.value, y_};
  return forward_with_hooks(
      x, ctx, out_, in_, [&](const Tensor& w) { backend_.linear_forward(shape_, input_, w, &bias_.value, y_); },
      [&](const SparseWeight& w) { backend_.linear_forward_sparse(shape_, input_, w, &bias_.value, y_); }, &call);
}

Tensor Linear::backward(const Tensor& dy, bool need_dx) {
  prepare_backward(dy, need_dx);
  Tensor dx_flat = need_dx ? dx_.reshaped({shape_.batch, in_}) : Tensor();
  backend_.linear_backward(shape_, input_, used_weight_, dy, need_dx ? &dx_flat : nullptr, weight_.grad,
                           &bias_.grad);
  return need_dx ? dx_ : Tensor();
}

}  // namespace sxb::nn
