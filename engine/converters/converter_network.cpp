#include "engine/converters/converter_network.h"

#include <optional>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "kernels/common/error.h"

namespace sxb {

nlohmann::json to_json(const LayerConverters& c) {
  return {{"layer", c.layer},
          {"slices", c.slices},
          {"dac_range", c.dac.range},
          {"dac_signed", c.dac.is_signed},
          {"adc_range", c.adc},
          {"adc_reads", c.counts.reads},
          {"adc_clipped", c.counts.clipped},
          {"adc_clipped_share", c.clipped_share()}};
}

ConverterNetwork::ConverterNetwork(const std::vector<LayerEffective>& layers, const NetworkLayout& layout,
                                   const CrossbarConfig& config)
    : settings_(ConverterSettings::of(config)) {
  SXB_REQUIRE(layers.size() == layout.layers.size(), "the tile-level forward needs every layer of the layout");
  for (std::size_t l = 0; l < layers.size(); ++l) layers_.push_back(TileLayer::of(layers[l], layout.layers[l], config));
  ranges_.resize(layers_.size());
  ready_.assign(layers_.size(), false);
  counts_.resize(layers_.size());
}

void ConverterNetwork::reset_counts() { std::fill(counts_.begin(), counts_.end(), AdcCounts{}); }

std::vector<LayerConverters> ConverterNetwork::summary() const {
  std::vector<LayerConverters> out;
  for (std::size_t l = 0; l < layers_.size(); ++l)
    out.push_back({layers_[l].layer, layers_[l].slices, ranges_[l].dac, ranges_[l].adc, counts_[l]});
  return out;
}

bool ConverterNetwork::product(nn::Backend& b, const nn::LayerProduct& call) {
  const auto it = std::find_if(layers_.begin(), layers_.end(), [&](const TileLayer& t) { return t.layer == call.layer; });
  if (it == layers_.end()) return false;
  const std::size_t l = static_cast<std::size_t>(it - layers_.begin());
  SXB_REQUIRE(ready_[l], fmt::format("layer '{}': converter ranges are not set", call.layer));
  SXB_REQUIRE(call.conv || call.linear->in_features == it->inputs,
              fmt::format("layer '{}': input has {} features, the tiles {}", call.layer,
                          call.linear ? call.linear->in_features : 0, it->inputs));
  const int batch = call.conv ? call.conv->batch : call.linear->batch;
  if (&b != device_backend_) {
    device_backend_ = &b;
    backend_has_product_ = true;  // until the backend says otherwise
    device_.clear();
    device_.resize(layers_.size());
    prepared_.assign(layers_.size(), false);
  }
  if (backend_has_product_ && !prepared_[l]) {
    device_[l] = b.prepare_tile_product(flat_tile_layer(*it));
    prepared_[l] = true;
    backend_has_product_ = device_[l] != nullptr;
  }
  if (device_[l]) {
    const nn::TileProductCounts c = b.tile_product(*device_[l], tile_converters(settings_, ranges_[l]), call.conv,
                                                   batch, call.x, call.bias, call.y);
    counts_[l].reads += c.reads;
    counts_[l].clipped += c.clipped;
    return true;
  }
  x_.resize(call.x.numel());
  b.download(call.x, x_.data());
  bias_.resize(call.bias ? call.bias->numel() : 0);
  if (call.bias) b.download(*call.bias, bias_.data());
  y_.resize(call.y.numel());
  LayerInput in{x_.data(), batch, call.conv};
  tile_layer_forward(*it, settings_, ranges_[l], in, bias_.empty() ? nullptr : bias_.data(), y_.data(), &counts_[l]);
  b.upload(y_.data(), call.y);
  return true;
}

void ConverterNetwork::run_with(nn::Vgg& model, const std::function<void()>& run) {
  nn::Backend& b = model.backend();
  model.set_product_hook([this, &b](const nn::LayerProduct& call) { return product(b, call); });
  try {
    run();
  } catch (...) {
    model.set_product_hook(nullptr);
    throw;
  }
  model.set_product_hook(nullptr);
}

void ConverterNetwork::attach(nn::Vgg& model) {
  nn::Backend& b = model.backend();
  model.set_product_hook([this, &b](const nn::LayerProduct& call) { return product(b, call); });
}

void ConverterNetwork::shift_weights(std::size_t l, const std::vector<float>& delta) {
  TileLayer& t = layers_.at(l);
  SXB_REQUIRE(delta.size() == static_cast<std::size_t>(t.inputs) * t.outputs,
              fmt::format("layer '{}': a weight change of the wrong size", t.layer));
  solved_.resize(layers_.size());
  if (solved_[l].empty())
    for (const TilePair& p : t.pairs) solved_[l].push_back(p.w);
  double sum = 0.0;
  for (double f : t.slice_weight) sum += f;
  const float share = static_cast<float>(1.0 / sum);
  for (std::size_t q = 0; q < t.pairs.size(); ++q) {
    TilePair& p = t.pairs[q];
    const std::size_t r = p.rows.size();
    for (std::size_t j = 0; j < p.cols.size(); ++j)
      for (std::size_t i = 0; i < r; ++i)
        p.w[j * r + i] = solved_[l][q][j * r + i] +
                         share * delta[static_cast<std::size_t>(p.rows[i]) * t.outputs + p.cols[j]];
  }
  if (l < prepared_.size()) prepared_[l] = false;  // the backend's copy is stale
}

namespace {

// Thrown by the range-setting hook once it has the input of the layer being
// set, to end that forward there.
struct InputTaken {};

constexpr int kRangeBatch = 256;

}  // namespace

namespace {

// The running statistics of every batch-norm layer, restored on destruction.
class KeepBuffers {
 public:
  explicit KeepBuffers(nn::Vgg& model) : model_(model) {
    for (const nn::Buffer* b : model.buffers())
      saved_.push_back(b->is_count ? std::vector<float>{} : nn::to_host(model.backend(), b->value)), counts_.push_back(b->count);
  }
  ~KeepBuffers() {
    std::size_t i = 0;
    for (nn::Buffer* b : model_.buffers()) {
      if (!b->is_count) model_.backend().upload(saved_[i].data(), b->value);
      b->count = counts_[i++];
    }
  }

 private:
  nn::Vgg& model_;
  std::vector<std::vector<float>> saved_;
  std::vector<std::int64_t> counts_;
};

}  // namespace

void ConverterNetwork::set_ranges(nn::Vgg& model, const Dataset& train, const Normalization& norm, nn::Mode mode) {
  std::optional<KeepBuffers> keep;
  if (mode == nn::Mode::Train) keep.emplace(model);
  SXB_REQUIRE(train.size() > 0, "crossbar.range_images: the training split " + train.source + " is empty");
  const std::size_t images = std::min<std::size_t>(static_cast<std::size_t>(settings_.range_images), train.size());
  std::vector<int> indices(images);
  for (std::size_t k = 0; k < images; ++k) indices[k] = static_cast<int>(k * train.size() / images);
  nn::Backend& b = model.backend();
  std::fill(ready_.begin(), ready_.end(), false);
  std::vector<float> host_images, inputs;
  std::vector<int> labels;
  nn::Tensor x;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const TileLayer& layer = layers_[l];
    // The layer's input over the range images, earlier layers on their converters.
    inputs.clear();
    std::optional<nn::Conv2dShape> shape;
    const nn::ProductHook take = [&](const nn::LayerProduct& call) {
      if (call.layer != layer.layer) return product(b, call);
      const std::vector<float> h = nn::to_host(b, call.x);
      inputs.insert(inputs.end(), h.begin(), h.end());
      if (call.conv) shape = *call.conv;
      throw InputTaken{};
    };
    model.set_product_hook(take);
    try {
      for (std::size_t first = 0; first < images; first += kRangeBatch) {
        const int n = static_cast<int>(std::min<std::size_t>(kRangeBatch, images - first));
        host_images.resize(static_cast<std::size_t>(n) * kImageBytes);
        labels.resize(static_cast<std::size_t>(n));
        make_batch(train, indices.data() + first, n, norm, nullptr, first, host_images.data(), labels.data());
        nn::ensure_shape(b, x, {n, kImageChannels, kImageSize, kImageSize});
        b.upload(host_images.data(), x);
        try {
          model.forward(x, nn::ForwardContext{mode});
        } catch (const InputTaken&) {
          continue;
        }
        throw Error(fmt::format("layer '{}': the forward never reached it", layer.layer));
      }
    } catch (...) {
      model.set_product_hook(nullptr);
      throw;
    }
    model.set_product_hook(nullptr);
    LayerRanges& r = ranges_[l];
    r.dac = {};
    if (settings_.dac_bits > 0) {
      for (float v : inputs) {
        r.dac.range = std::max(r.dac.range, static_cast<double>(std::fabs(v)));
        r.dac.is_signed = r.dac.is_signed || v < 0.0f;
      }
    }
    r.adc.clear();
    if (settings_.adc_bits > 0) {
      LayerInput in{inputs.data(), static_cast<int>(images), nullptr};
      if (shape) {
        shape->batch = static_cast<int>(images);
        in.conv = &*shape;
      }
      std::vector<AbsPercentile> collect(layer.slices, AbsPercentile(settings_.adc_range_percentile));
      tile_layer_forward(layer, settings_, r, in, nullptr, nullptr, nullptr, &collect);
      if (collect.front().needs_second_pass()) {
        for (AbsPercentile& c : collect) c.start_second_pass();
        tile_layer_forward(layer, settings_, r, in, nullptr, nullptr, nullptr, &collect);
      }
      for (AbsPercentile& c : collect) r.adc.push_back(c.value());
    }
    ready_[l] = true;
  }
  reset_counts();
}

}  // namespace sxb
