// VGG11 / VGG16 in the common PyTorch CIFAR form (kuangliu/pytorch-cifar):
//   features   = for each entry of the configuration list, a number c gives
//                Conv2d(in, c, 3, padding=1) + BatchNorm2d(c) + ReLU (three
//                Sequential indices), 'M' gives MaxPool2d(2, 2) (one index);
//                then AvgPool2d(1, 1) (an identity, one index, no parameters)
//   classifier = [Dropout(p), when p > 0: no parameters, not in the state dict]
//                Linear(c_last, classes)
// Width multiplier W: c -> max(1, round(c * W)), unless an explicit channel
// list gives every conv layer's output channels (a channel/filter-pruned
// model, engine/pruning/pruning.h). Inputs are 3 x 32 x 32.
// State-dict names and shapes are PyTorch's: features.<i>.weight|bias (conv
// [c, in, 3, 3] and [c]), features.<i>.weight|bias|running_mean|running_var
// ([c]) and num_batches_tracked ([] I64) (batch-norm), classifier.weight
// [classes, c_last] and classifier.bias [classes].
//
// The model runs on any nn::Backend. Its per-channel input normalisation
// (mean, std of the training set) travels with it in the safetensors
// __metadata__ (keys: model, width, classes, input_mean, input_std, dropout,
// and "channels" = "[c0, c1, ...]" only when the channel list is explicit)
// but is applied by the caller (engine/data/batches.h) when it builds a batch.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/modules.h"
#include "models/io/safetensors.h"

namespace sxb::nn {

inline constexpr int kVggInputChannels = 3, kVggInputSize = 32;
inline constexpr int kVggPool = -1;  // 'M' in a layout
// The model every setting defaults to (VggConfig, train, sweeps, benchmarks),
// and the largest width multiplier anything accepts.
inline constexpr const char* kDefaultVgg = "vgg11";
inline constexpr double kMaxWidth = 16.0;

// The configuration list of "vgg11" or "vgg16" (kVggPool for 'M'); other names are an Error.
std::vector<int> vgg_layout(const std::string& model);
// max(1, round(channels * width)).
int scaled_channels(int channels, double width);

struct VggConfig {
  std::string model = kDefaultVgg;  // "vgg11" or "vgg16"
  double width = 1.0;           // > 0
  int classes = 10;             // >= 1
  float dropout = 0.0f;         // before the classifier, in [0, 1)
  std::array<float, 3> input_mean{0.0f, 0.0f, 0.0f};
  std::array<float, 3> input_std{1.0f, 1.0f, 1.0f};
  // Output channels of every conv layer, in order; empty: from width.
  std::vector<int> channels;

  void check() const;  // Error naming the bad value
  // The output channels of the conv layers (explicit, or scaled by width).
  std::vector<int> conv_channels() const;
  // The __metadata__ entries describing this configuration.
  std::map<std::string, std::string> metadata() const;
};

// What a command line fixes about a model; unset fields are taken from the file.
struct VggRequest {
  std::string model;  // required
  std::optional<double> width;
  std::optional<int> classes;
};

// The configuration of a weights file: the request, completed from the
// file's metadata (or, for a file without it, such as a PyTorch export, from
// the tensor shapes; the input normalisation then defaults to mean 0, std 1
// unless `normalisation_required`). A value in the metadata that disagrees
// with the request is an Error naming the file, the key and both values.
VggConfig vgg_config_for_file(const SafetensorsFile& file, const std::string& path, const VggRequest& request,
                              bool normalisation_required);

class Vgg {
 public:
  // Parameters start at zero: call init() or load_state_dict(). `backend`
  // must outlive the model.
  Vgg(const VggConfig& config, Backend& backend);

  const VggConfig& config() const { return config_; }
  Backend& backend() { return backend_; }

  // PyTorch's default initialisation (weights and biases of conv and linear
  // layers uniform in +-1/sqrt(fan_in); batch-norm weight 1, bias 0, running
  // mean 0, var 1), drawn counter-based from `seed`.
  void init(std::uint64_t seed);

  // x [N, 3, 32, 32] (normalised) -> logits [N, classes], valid until the next forward.
  const Tensor& forward(const Tensor& x, const ForwardContext& ctx);
  // The eval path: logits of x as forward(x, Eval) computes them (equal up to
  // float rounding), valid until the next forward.
  const Tensor& infer(const Tensor& x);
  // Gradients of every parameter from dlogits of the last train-mode forward.
  void backward(const Tensor& dlogits);
  // The forward of x through every layer before `layer` (a layer name, e.g.
  // "features.1"): that layer's input, valid until the next forward. An
  // unknown name is an Error.
  const Tensor& forward_to(const std::string& layer, const Tensor& x, const ForwardContext& ctx);

  // Sequential order; pointers stay valid for the model's lifetime.
  const std::vector<Parameter*>& parameters() const { return parameters_; }
  const std::vector<Buffer*>& buffers() const { return buffers_; }
  Parameter& parameter(const std::string& name);
  Buffer& buffer(const std::string& name);
  // Names of the conv and linear layers ("features.0", ..., "classifier").
  std::vector<std::string> weight_layers() const;
  // Names of the batch-norm layers ("features.1", ...), in network order.
  std::vector<std::string> batch_norm_layers() const;
  void prepare_training();  // allocates gradients and momentum buffers

  void set_weight_hook(WeightHook hook) { hooks_.weight = std::move(hook); }
  void set_sparse_weight_hook(SparseWeightHook hook) { hooks_.sparse = std::move(hook); }
  void set_product_hook(ProductHook hook) { hooks_.product = std::move(hook); }

  // Every parameter and buffer under its PyTorch name, plus config().metadata().
  SafetensorsFile state_dict();
  // Replaces parameters and buffers. A missing tensor, an unexpected one, a
  // wrong shape, a non-finite value or a negative batch-norm running variance
  // (models/weight_checks.h) is an Error naming the tensor and `source` (the file).
  void load_state_dict(const SafetensorsFile& file, const std::string& source);

 private:
  VggConfig config_;
  Backend& backend_;
  LayerHooks hooks_;
  void check_input(const Tensor& x) const;
  std::vector<std::unique_ptr<Module>> layers_;  // features, then [dropout,] classifier
  std::vector<std::string> weight_layers_, batch_norm_layers_;
  std::vector<Parameter*> parameters_;
  std::vector<Buffer*> buffers_;
};

}  // namespace sxb::nn
