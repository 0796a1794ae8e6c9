#include "models/vgg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "models/weight_checks.h"

namespace sxb::nn {
namespace {

constexpr int M = kVggPool;

std::string format_triple(const std::array<float, 3>& v) { return fmt::format("[{}, {}, {}]", v[0], v[1], v[2]); }

// "[a, b, c]" (as format_triple writes) -> floats, parsed exactly.
std::optional<std::array<float, 3>> parse_triple(const std::string& text) {
  std::array<float, 3> out{};
  const char* p = text.c_str();
  while (*p == ' ' || *p == '[') ++p;
  for (int k = 0; k < 3; ++k) {
    char* end = nullptr;
    out[k] = std::strtof(p, &end);
    if (end == p) return std::nullopt;
    p = end;
    while (*p == ' ' || *p == ',') ++p;
  }
  while (*p == ' ') ++p;
  if (*p != ']' || p[1] != '\0') return std::nullopt;
  return out;
}

std::string format_list(const std::vector<int>& v) {
  std::string s = "[";
  for (std::size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + std::to_string(v[k]);
  return s + "]";
}

// "[a, b, ...]" (as format_list writes, any spacing) -> integers.
std::optional<std::vector<int>> parse_int_list(const std::string& text) {
  std::vector<int> out;
  const char* p = text.c_str();
  while (*p == ' ') ++p;
  if (*p != '[') return std::nullopt;
  ++p;
  while (*p == ' ') ++p;
  if (*p == ']') return p[1] == '\0' ? std::optional(out) : std::nullopt;
  for (;;) {
    char* end = nullptr;
    const long v = std::strtol(p, &end, 10);
    if (end == p || v < 0 || v > (1L << 30)) return std::nullopt;
    out.push_back(static_cast<int>(v));
    p = end;
    while (*p == ' ') ++p;
    if (*p == ']') break;
    if (*p != ',') return std::nullopt;
    ++p;
    while (*p == ' ') ++p;
  }
  ++p;
  while (*p == ' ') ++p;
  if (*p != '\0') return std::nullopt;
  return out;
}

std::optional<double> parse_number(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') return std::nullopt;
  return v;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

}  // namespace

std::vector<int> vgg_layout(const std::string& model) {
  if (model == "vgg11") return {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
  if (model == "vgg16") return {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M};
  throw Error("unknown model '" + model + "' (vgg11 or vgg16)");
}

int scaled_channels(int channels, double width) {
  return std::max(1, static_cast<int>(std::lround(channels * width)));
}

void VggConfig::check() const {
  vgg_layout(model);
  SXB_REQUIRE(std::isfinite(width) && width > 0.0 && width <= kMaxWidth,
              fmt::format("width {} is not in (0, {}]", width, kMaxWidth));
  SXB_REQUIRE(classes >= 1 && classes <= 100000, fmt::format("classes {} is not in 1..100000", classes));
  SXB_REQUIRE(dropout >= 0.0f && dropout < 1.0f, fmt::format("dropout {} is not in [0, 1)", dropout));
  if (!channels.empty()) {
    std::size_t convs = 0;
    for (int entry : vgg_layout(model)) convs += entry != M;
    SXB_REQUIRE(channels.size() == convs, fmt::format("channels {} has {} entries, {} has {} conv layers",
                                                      format_list(channels), channels.size(), model, convs));
    for (int c : channels)
      SXB_REQUIRE(c >= 1 && c <= 65536, fmt::format("channels {}: {} is not in 1..65536", format_list(channels), c));
  }
  for (int c = 0; c < 3; ++c)
    SXB_REQUIRE(std::isfinite(input_mean[c]) && std::isfinite(input_std[c]) && input_std[c] > 0.0f,
                fmt::format("input normalisation mean {} std {} is not finite with std > 0", format_triple(input_mean),
                            format_triple(input_std)));
}

std::vector<int> VggConfig::conv_channels() const {
  if (!channels.empty()) return channels;
  std::vector<int> out;
  for (int entry : vgg_layout(model))
    if (entry != M) out.push_back(scaled_channels(entry, width));
  return out;
}

std::map<std::string, std::string> VggConfig::metadata() const {
  std::map<std::string, std::string> md = {{"format", "pt"},
          {"model", model},
          {"width", fmt::format("{}", width)},
          {"classes", std::to_string(classes)},
          {"dropout", fmt::format("{}", dropout)},
          {"input_mean", format_triple(input_mean)},
          {"input_std", format_triple(input_std)}};
  if (!channels.empty()) md["channels"] = format_list(channels);
  return md;
}

VggConfig vgg_config_for_file(const SafetensorsFile& file, const std::string& path, const VggRequest& request,
                              bool normalisation_required) {
  VggConfig c;
  c.model = request.model;
  vgg_layout(c.model);
  const auto& md = file.metadata;
  auto has = [&](const char* key) { return md.count(key) != 0; };
  auto bad = [&](const char* key) {
    return Error(fmt::format("{}: __metadata__ {} = '{}' is not valid", path, key, md.at(key)));
  };
  if (has("model") && md.at("model") != c.model)
    throw Error(Message{Subject{path}, fmt::format(": holds a {} model, but ", md.at("model")), Key{"model"}, " is " + c.model});

  if (has("width")) {
    const auto w = parse_number(md.at("width"));
    if (!w) throw bad("width");
    if (request.width && *request.width != *w)
      throw Error(Message{Subject{path}, fmt::format(": was trained with width {}, but ", *w), Key{"width"},
                          fmt::format(" is {}", *request.width)});
    c.width = *w;
  } else {
    c.width = request.width.value_or(1.0);
  }

  if (has("classes")) {
    const auto k = parse_number(md.at("classes"));
    if (!k || *k != std::floor(*k)) throw bad("classes");
    if (request.classes && *request.classes != static_cast<int>(*k))
      throw Error(Message{Subject{path}, fmt::format(": has {} classes, but ", *k), Key{"classes"},
                          fmt::format(" is {}", *request.classes)});
    c.classes = static_cast<int>(*k);
  } else if (request.classes) {
    c.classes = *request.classes;
  } else {
    const auto it = file.tensors.find("classifier.weight");
    SXB_REQUIRE(it != file.tensors.end() && it->second.shape.size() == 2,
                path + ": no 'classes' metadata and no 2-d classifier.weight to infer it from");
    c.classes = static_cast<int>(it->second.shape[0]);
  }

  if (has("dropout")) {
    const auto p = parse_number(md.at("dropout"));
    if (!p) throw bad("dropout");
    c.dropout = static_cast<float>(*p);
  }

  if (has("channels")) {
    const auto list = parse_int_list(md.at("channels"));
    if (!list) throw bad("channels");
    c.channels = *list;
  }

  if (has("input_mean") || has("input_std")) {
    SXB_REQUIRE(has("input_mean") && has("input_std"), path + ": __metadata__ has only one of input_mean, input_std");
    const auto mean = parse_triple(md.at("input_mean")), stdev = parse_triple(md.at("input_std"));
    if (!mean) throw bad("input_mean");
    if (!stdev) throw bad("input_std");
    c.input_mean = *mean;
    c.input_std = *stdev;
  } else {
    SXB_REQUIRE(!normalisation_required,
                path + ": no input_mean/input_std in __metadata__ (not written by sparsexbar train?)");
  }
  try {
    c.check();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  return c;
}

Vgg::Vgg(const VggConfig& config, Backend& backend) : config_(config), backend_(backend) {
  config_.check();
  int index = 0, channels = kVggInputChannels;
  const LayerHooks* hooks = &hooks_;
  const std::vector<int> conv_channels = config_.conv_channels();
  std::size_t conv = 0;
  for (int entry : vgg_layout(config_.model)) {
    if (entry == M) {
      layers_.push_back(std::make_unique<MaxPool2d>(backend_, fmt::format("features.{}", index)));
      index += 1;
      continue;
    }
    const int out = conv_channels[conv++];
    layers_.push_back(std::make_unique<Conv2d>(backend_, fmt::format("features.{}", index), channels, out, 3, 1, hooks));
    layers_.push_back(std::make_unique<BatchNorm2d>(backend_, fmt::format("features.{}", index + 1), out));
    layers_.push_back(std::make_unique<ReLU>(backend_, fmt::format("features.{}", index + 2)));
    weight_layers_.push_back(fmt::format("features.{}", index));
    batch_norm_layers_.push_back(fmt::format("features.{}", index + 1));
    channels = out;
    index += 3;
  }
  // features.<index> is AvgPool2d(1, 1): the identity, nothing to run or save.
  if (config_.dropout > 0.0f) layers_.push_back(std::make_unique<Dropout>(backend_, "dropout", config_.dropout));
  layers_.push_back(std::make_unique<Linear>(backend_, "classifier", channels, config_.classes, hooks));
  weight_layers_.push_back("classifier");
  for (auto& layer : layers_) {
    for (Parameter* p : layer->parameters()) parameters_.push_back(p);
    for (Buffer* b : layer->buffers()) buffers_.push_back(b);
  }
}

void Vgg::init(std::uint64_t seed) {
  for (std::size_t k = 0; k < layers_.size(); ++k) layers_[k]->reset_parameters(seed, k);
  for (Parameter* p : parameters_)
    if (!p->momentum.empty()) backend_.fill(p->momentum, 0.0f);
}

void Vgg::check_input(const Tensor& x) const {
  SXB_REQUIRE(x.rank() == 4 && x.dim(1) == kVggInputChannels && x.dim(2) == kVggInputSize &&
                  x.dim(3) == kVggInputSize,
              fmt::format("{}: input {} is not (N, 3, 32, 32)", config_.model, x.shape_string()));
}

const Tensor& Vgg::forward(const Tensor& x, const ForwardContext& ctx) {
  check_input(x);
  const Tensor* h = &x;
  for (auto& layer : layers_) h = &layer->forward(*h, ctx);
  return *h;
}

const Tensor& Vgg::infer(const Tensor& x) {
  check_input(x);
  const ForwardContext eval{Mode::Eval};
  const Tensor* h = &x;
  for (std::size_t k = 0; k < layers_.size();) {
    // features: Conv2d, BatchNorm2d, ReLU [, MaxPool2d] as one block.
    auto* conv = dynamic_cast<Conv2d*>(layers_[k].get());
    const auto* bn = conv && k + 2 < layers_.size() ? dynamic_cast<const BatchNorm2d*>(layers_[k + 1].get()) : nullptr;
    if (bn && dynamic_cast<const ReLU*>(layers_[k + 2].get())) {
      const bool pool = k + 3 < layers_.size() && dynamic_cast<const MaxPool2d*>(layers_[k + 3].get());
      if (const Tensor* y = conv->forward_block_eval(*h, *bn, pool)) {
        h = y;
        k += pool ? 4 : 3;
        continue;
      }
    }
    h = &layers_[k]->forward(*h, eval);
    ++k;
  }
  return *h;
}

const Tensor& Vgg::forward_to(const std::string& name, const Tensor& x, const ForwardContext& ctx) {
  check_input(x);
  const auto stop = std::find_if(layers_.begin(), layers_.end(), [&](const auto& l) { return l->name() == name; });
  SXB_REQUIRE(stop != layers_.end(), config_.model + ": no layer " + name);
  const Tensor* h = &x;
  for (auto it = layers_.begin(); it != stop; ++it) h = &(*it)->forward(*h, ctx);
  return *h;
}

void Vgg::backward(const Tensor& dlogits) {
  Tensor dy = dlogits;
  for (std::size_t k = layers_.size(); k-- > 0;) dy = layers_[k]->backward(dy, k > 0);
}

Parameter& Vgg::parameter(const std::string& name) {
  for (Parameter* p : parameters_)
    if (p->name == name) return *p;
  throw Error(config_.model + ": no parameter " + name);
}

Buffer& Vgg::buffer(const std::string& name) {
  for (Buffer* b : buffers_)
    if (b->name == name) return *b;
  throw Error(config_.model + ": no buffer " + name);
}

std::vector<std::string> Vgg::weight_layers() const { return weight_layers_; }

std::vector<std::string> Vgg::batch_norm_layers() const { return batch_norm_layers_; }

void Vgg::prepare_training() {
  for (auto& layer : layers_) layer->prepare_training();
}

SafetensorsFile Vgg::state_dict() {
  SafetensorsFile f;
  auto put = [&](const std::string& name, const Tensor& t) {
    HostTensor h;
    h.shape.assign(t.shape().begin(), t.shape().end());
    h.data = to_host(backend_, t);
    f.tensors[name] = std::move(h);
  };
  for (Parameter* p : parameters_) put(p->name, p->value);
  for (Buffer* b : buffers_) {
    if (b->is_count) f.tensors[b->name] = HostTensor{{}, {static_cast<float>(b->count)}, "I64"};
    else put(b->name, b->value);
  }
  f.metadata = config_.metadata();
  return f;
}

void Vgg::load_state_dict(const SafetensorsFile& file, const std::string& source) {
  std::set<std::string> expected;
  auto fetch = [&](const std::string& name, const std::vector<int>& shape) -> const HostTensor& {
    expected.insert(name);
    const auto it = file.tensors.find(name);
    SXB_REQUIRE(it != file.tensors.end(), fmt::format("{}: missing tensor '{}'", source, name));
    const std::vector<std::int64_t> want(shape.begin(), shape.end());
    SXB_REQUIRE(it->second.shape == want, fmt::format("{}: tensor '{}' has shape {}, {} needs {}", source, name,
                                                      shape_string(it->second.shape), config_.model,
                                                      shape_string(want)));
    return it->second;
  };
  // Check everything before changing anything.
  std::vector<std::pair<const HostTensor*, Tensor*>> updates;
  std::vector<std::pair<const HostTensor*, Buffer*>> counts;
  for (Parameter* p : parameters_) updates.emplace_back(&fetch(p->name, p->value.shape()), &p->value);
  for (Buffer* b : buffers_) {
    if (b->is_count) counts.emplace_back(&fetch(b->name, {}), b);
    else updates.emplace_back(&fetch(b->name, b->value.shape()), &b->value);
  }
  for (const auto& [name, tensor] : file.tensors)
    SXB_REQUIRE(expected.count(name),
                fmt::format("{}: unexpected tensor '{}' (not part of {} width {}{} with {} classes)", source, name,
                            config_.model, config_.width,
                            config_.channels.empty() ? "" : " channels " + format_list(config_.channels),
                            config_.classes));
  for (const auto& [name, tensor] : file.tensors) {
    if (name.ends_with(".running_var")) check_running_variance(tensor, name, source);
    else check_finite_values(tensor, name, source);
  }
  for (auto& [host, tensor] : updates) backend_.upload(host->data.data(), *tensor);
  for (auto& [host, buffer] : counts) buffer->count = static_cast<std::int64_t>(host->data[0]);
}

}  // namespace sxb::nn
