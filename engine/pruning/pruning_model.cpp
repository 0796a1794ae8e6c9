// Pruning on a VGG model (engine/pruning/pruning.h): which layers are pruned, the
// group-lasso step on the model's weights, hard pruning (masks or shrinking)
// and the fine-tuning masks.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "engine/pruning/pruning.h"
#include "kernels/tile/tile.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

// A weight layer's matrix dimensions: N = weight.shape[0], K = the rest.
struct WeightShape {
  int inputs = 0, outputs = 0;
};

WeightShape weight_shape(const nn::Tensor& w) {
  SXB_REQUIRE(w.rank() >= 2 && w.dim(0) > 0, "pruning: weight " + w.shape_string() + " is not a layer weight");
  return {static_cast<int>(w.numel() / static_cast<std::size_t>(w.dim(0))), w.dim(0)};
}

nn::Parameter& layer_weight(nn::Vgg& model, const std::string& layer) { return model.parameter(layer + ".weight"); }

GroupGeometry geometry_of(nn::Vgg& model, const std::string& layer, const PruneSpec& spec) {
  const WeightShape s = weight_shape(layer_weight(model, layer).value);
  return {spec.method, s.inputs, s.outputs, spec.tile_rows, spec.tile_cols};
}

// The conv layers' names ("features.i") and their batch-norm ("features.i+1"), in order.
std::vector<std::pair<std::string, std::string>> conv_and_norm_names(const std::string& model) {
  std::vector<std::pair<std::string, std::string>> names;
  int index = 0;
  for (int entry : nn::vgg_layout(model)) {
    if (entry == nn::kVggPool) {
      index += 1;
      continue;
    }
    names.emplace_back(fmt::format("features.{}", index), fmt::format("features.{}", index + 1));
    index += 3;
  }
  return names;
}

// Rows `rows` (dim 0) and, when `cols` is given, sub-blocks `cols` of size
// `inner` of dim 1 of a tensor [D0, D1 * inner...].
HostTensor select(const HostTensor& t, const std::vector<int>* rows, const std::vector<int>* cols, const std::string& name) {
  SXB_REQUIRE(!t.shape.empty(), "keep_channels: tensor '" + name + "' is a scalar");
  const std::size_t d0 = static_cast<std::size_t>(t.shape[0]);
  const std::size_t row_size = d0 ? t.data.size() / d0 : 0;
  std::size_t d1 = 1, inner = row_size;
  if (cols) {
    SXB_REQUIRE(t.shape.size() >= 2, "keep_channels: tensor '" + name + "' has no input dimension");
    d1 = static_cast<std::size_t>(t.shape[1]);
    inner = row_size / d1;
  }
  auto check = [&](const std::vector<int>& idx, std::size_t extent, const char* what) {
    int last = -1;
    for (int i : idx) {
      SXB_REQUIRE(i > last && static_cast<std::size_t>(i) < extent,
                  fmt::format("keep_channels: {} indices of '{}' must increase within [0, {})", what, name, extent));
      last = i;
    }
    SXB_REQUIRE(!idx.empty(), fmt::format("keep_channels: no {} of '{}' kept", what, name));
  };
  std::vector<int> all_rows(d0), all_cols(d1);
  for (std::size_t i = 0; i < d0; ++i) all_rows[i] = static_cast<int>(i);
  for (std::size_t i = 0; i < d1; ++i) all_cols[i] = static_cast<int>(i);
  const std::vector<int>& r = rows ? *rows : all_rows;
  const std::vector<int>& c = cols ? *cols : all_cols;
  check(r, d0, "output");
  check(c, d1, "input");
  HostTensor out;
  out.dtype = t.dtype;
  out.shape = t.shape;
  out.shape[0] = static_cast<std::int64_t>(r.size());
  if (cols) out.shape[1] = static_cast<std::int64_t>(c.size());
  out.data.reserve(r.size() * c.size() * inner);
  for (int i : r)
    for (int j : c) {
      const float* src = t.data.data() + static_cast<std::size_t>(i) * row_size + static_cast<std::size_t>(j) * inner;
      out.data.insert(out.data.end(), src, src + inner);
    }
  return out;
}

}  // namespace

void PruneSpec::check(const std::string& path) const {
  const std::string p = path.empty() ? "" : path + ".";
  SXB_REQUIRE(tile_rows >= 1 && tile_rows <= kMaxTileDim && tile_cols >= 1 && tile_cols <= kMaxTileDim,
              Message{Key{p + "tile"}, fmt::format(" {}x{} is outside 1..{}", tile_rows, tile_cols, kMaxTileDim)});
  SXB_REQUIRE(std::isfinite(sparsity) && sparsity >= 0.0 && sparsity < 1.0,
              Message{Key{p + "sparsity"}, fmt::format(" {} is not in [0, 1)", sparsity)});
  SXB_REQUIRE(std::isfinite(max_layer_sparsity) && max_layer_sparsity >= 0.0 && max_layer_sparsity < 1.0,
              Message{Key{p + "max_layer_sparsity"}, fmt::format(" {} is not in [0, 1)", max_layer_sparsity)});
  SXB_REQUIRE(!(method == PruneMethod::ChannelFilter && prune_classifier),
              Message{Key{p + "prune_classifier"},
                      " does not apply to cf (the classifier's outputs are the classes; it "
                      "shrinks with the last conv layer)"});
  for (const auto& [layer, t] : layer_targets)
    SXB_REQUIRE(std::isfinite(t) && t >= 0.0 && t < 1.0,
                Message{Key{p + "per_layer"}, fmt::format(": sparsity of '{}' is {}, not in [0, 1)", layer, t)});
}

nlohmann::json PruneSpec::to_json() const {
  return {{"method", method_name(method)},
          {"tile_rows", tile_rows},
          {"tile_cols", tile_cols},
          {"sparsity", sparsity},
          {"per_layer", per_layer},
          {"layer_targets", layer_targets},
          {"prune_first", prune_first},
          {"prune_classifier", prune_classifier},
          {"max_layer_sparsity", max_layer_sparsity}};
}

std::map<std::string, double> read_layer_targets(const std::string& path) {
  std::ifstream in(path);
  SXB_REQUIRE(in, path + ": cannot open the per-layer sparsity file");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
  SXB_REQUIRE(j.is_object(), path + ": expected an object {\"features.3\": 0.5, ...}");
  std::map<std::string, double> out;
  for (const auto& [layer, value] : j.items()) {
    SXB_REQUIRE(value.is_number(), path + ": the sparsity of '" + layer + "' is not a number");
    const double t = value.get<double>();
    SXB_REQUIRE(std::isfinite(t) && t >= 0.0 && t < 1.0,
                fmt::format("{}: the sparsity of '{}' is {}, not in [0, 1)", path, layer, t));
    out[layer] = t;
  }
  return out;
}

std::vector<std::string> prunable_layers(nn::Vgg& model, const PruneSpec& spec) {
  const std::vector<std::string> layers = model.weight_layers();
  std::string names;
  for (const std::string& l : layers) names += (names.empty() ? "" : ", ") + l;
  for (const auto& [layer, t] : spec.layer_targets)
    SXB_REQUIRE(std::find(layers.begin(), layers.end(), layer) != layers.end(),
                fmt::format("per-layer sparsity for '{}': {} has no such weight layer ({})", layer,
                            model.config().model, names));
  std::vector<std::string> out;
  for (const std::string& l : layers) {
    const bool first = l == layers.front(), classifier = l == layers.back();
    bool prunable = (!first || spec.prune_first) && (!classifier || spec.prune_classifier);
    if (spec.per_layer && spec.layer_targets.count(l)) prunable = true;
    if (classifier && spec.method == PruneMethod::ChannelFilter) {
      SXB_REQUIRE(!(spec.per_layer && spec.layer_targets.count(l)),
                  "cf cannot prune '" + l + "' (its outputs are the classes; it shrinks with the last conv layer)");
      prunable = false;
    }
    if (prunable) out.push_back(l);
  }
  return out;
}

std::vector<LayerGroups> network_groups(nn::Vgg& model, const PruneSpec& spec) {
  spec.check();
  const std::vector<std::string> prunable = prunable_layers(model, spec);
  std::vector<LayerGroups> out;
  for (const std::string& layer : model.weight_layers()) {
    LayerGroups g;
    g.layer = layer;
    g.geometry = geometry_of(model, layer, spec);
    const std::vector<float> w = nn::to_host(model.backend(), layer_weight(model, layer).value);
    g.norms = group_norms(g.geometry, w.data());
    g.prunable = std::find(prunable.begin(), prunable.end(), layer) != prunable.end();
    if (g.prunable && spec.per_layer) {
      const auto it = spec.layer_targets.find(layer);
      g.target = it != spec.layer_targets.end() ? it->second : spec.sparsity;
    }
    out.push_back(std::move(g));
  }
  return out;
}

void apply_group_lasso(nn::Vgg& model, const PruneSpec& spec, double step) {
  if (step == 0.0) return;
  for (const std::string& layer : prunable_layers(model, spec)) {
    nn::Parameter& p = layer_weight(model, layer);
    std::vector<float> w = nn::to_host(model.backend(), p.value);
    proximal_group_lasso(geometry_of(model, layer, spec), step, w.data());
    model.backend().upload(w.data(), p.value);
  }
}

SafetensorsFile keep_channels(const SafetensorsFile& state, const nn::VggConfig& config,
                              const std::vector<std::vector<int>>& kept, nn::VggConfig* shrunk) {
  const auto names = conv_and_norm_names(config.model);
  SXB_REQUIRE(kept.size() == names.size(),
              fmt::format("keep_channels: {} channel lists for the {} conv layers of {}", kept.size(), names.size(),
                          config.model));
  SafetensorsFile out = state;
  auto tensor = [&](const std::string& name) -> const HostTensor& {
    const auto it = state.tensors.find(name);
    SXB_REQUIRE(it != state.tensors.end(), "keep_channels: the state has no tensor '" + name + "'");
    return it->second;
  };
  nn::VggConfig c = config;
  c.channels.clear();
  for (std::size_t l = 0; l < names.size(); ++l) {
    const auto& [conv, norm] = names[l];
    const std::vector<int>* inputs = l > 0 ? &kept[l - 1] : nullptr;
    out.tensors[conv + ".weight"] = select(tensor(conv + ".weight"), &kept[l], inputs, conv + ".weight");
    out.tensors[conv + ".bias"] = select(tensor(conv + ".bias"), &kept[l], nullptr, conv + ".bias");
    for (const char* part : {".weight", ".bias", ".running_mean", ".running_var"})
      out.tensors[norm + part] = select(tensor(norm + part), &kept[l], nullptr, norm + part);
    c.channels.push_back(static_cast<int>(kept[l].size()));
  }
  out.tensors["classifier.weight"] = select(tensor("classifier.weight"), nullptr, &kept.back(), "classifier.weight");
  c.check();
  for (const auto& [key, value] : c.metadata()) out.metadata[key] = value;
  if (shrunk) *shrunk = c;
  return out;
}

PrunedNetwork hard_prune(nn::Vgg& model, const PruneSpec& spec) {
  const std::vector<LayerGroups> groups = network_groups(model, spec);
  PrunedNetwork out;
  out.selection = select_groups(groups, {spec.per_layer, spec.sparsity, spec.max_layer_sparsity});
  out.config = model.config();
  out.weights = model.state_dict();
  out.layout.method = method_name(spec.method);
  out.layout.tile_rows = spec.tile_rows;
  out.layout.tile_cols = spec.tile_cols;
  for (std::size_t l = 0; l < groups.size(); ++l) {
    LayerPruning lp;
    lp.layer = groups[l].layer;
    lp.groups = groups[l].norms.size();
    for (std::uint8_t k : out.selection.keep[l]) lp.removed_groups += k ? 0 : 1;
    out.layers.push_back(std::move(lp));
  }

  if (spec.method == PruneMethod::ChannelFilter) {
    std::vector<std::vector<int>> kept;
    for (std::size_t l = 0; l + 1 < groups.size(); ++l) {
      std::vector<int> channels;
      for (std::size_t n = 0; n < out.selection.keep[l].size(); ++n)
        if (out.selection.keep[l][n]) channels.push_back(static_cast<int>(n));
      out.layers[l].kept_channels = channels;
      kept.push_back(std::move(channels));
    }
    out.weights = keep_channels(out.weights, model.config(), kept, &out.config);
    for (const LayerGroups& g : groups) {
      const HostTensor& w = out.weights.tensors.at(g.layer + ".weight");
      const int n = static_cast<int>(w.shape[0]);
      out.layout.layers.push_back(
          dense_layout(g.layer, static_cast<int>(w.data.size() / static_cast<std::size_t>(n)), n, spec.tile_rows,
                       spec.tile_cols));
    }
  } else {
    for (std::size_t l = 0; l < groups.size(); ++l) {
      const GroupGeometry& g = groups[l].geometry;
      std::vector<float>& w = out.weights.tensors.at(groups[l].layer + ".weight").data;
      std::vector<std::uint8_t> mask(w.size());
      group_mask(g, out.selection.keep[l], mask.data());
      for (std::size_t i = 0; i < w.size(); ++i)
        if (!mask[i]) w[i] = 0.0f;
      out.layout.layers.push_back(packed_layout(groups[l].layer, g, out.selection.keep[l]));
    }
  }
  out.layout.check("hard_prune");
  return out;
}

long long set_masks(nn::Vgg& model, const NetworkLayout& layout) {
  long long masked = 0;
  for (const std::string& layer : model.weight_layers()) {
    const LayerLayout* l = layout.find(layer);
    SXB_REQUIRE(l, "set_masks: the layout has no layer '" + layer + "'");
    nn::Parameter& p = layer_weight(model, layer);
    const WeightShape s = weight_shape(p.value);
    SXB_REQUIRE(l->inputs == s.inputs && l->outputs == s.outputs,
                fmt::format("set_masks: layer '{}' is {} x {} in the layout, {} x {} in the model", layer, l->inputs,
                            l->outputs, s.inputs, s.outputs));
    std::vector<std::uint8_t> held(p.value.numel(), 0);
    for (const TilePlacement& t : l->tiles)
      for (int k : t.rows)
        for (int n : t.cols) held[static_cast<std::size_t>(n) * s.inputs + k] = 1;
    long long unheld = 0;
    for (std::uint8_t h : held) unheld += h ? 0 : 1;
    if (unheld == 0) {
      p.mask = nn::Tensor();
      continue;
    }
    masked += unheld;
    std::vector<float> w = nn::to_host(model.backend(), p.value);
    for (std::size_t i = 0; i < w.size(); ++i)
      if (!held[i]) w[i] = 0.0f;
    model.backend().upload(w.data(), p.value);
    p.mask = model.backend().empty(p.value.shape(), nn::DType::U8);
    model.backend().upload(held.data(), p.mask);
  }
  return masked;
}

}  // namespace sxb
