#include "engine/crossbar/layout_file.h"

#include <fmt/format.h>

#include "models/io/atomic_file.h"
#include <set>

#include "engine/io/content_hash.h"
#include "engine/io/json_file.h"
#include "kernels/common/error.h"

namespace sxb {

std::string layout_path(const std::string& model_path) {
  const std::string ext = ".safetensors";
  const bool has_ext =
      model_path.size() > ext.size() && model_path.compare(model_path.size() - ext.size(), ext.size(), ext) == 0;
  return (has_ext ? model_path.substr(0, model_path.size() - ext.size()) : model_path) + ".layout.json";
}

namespace {

// The keys a layout file may have: the layout, what prune adds, its hash.
const std::set<std::string> kLayoutFileKeys = {"method", "tile_rows", "tile_cols", "layers",
                                               "accounting", "pruning", "content_hash", "weights_mask_hash"};

// SHA-256 of the layout as to_json writes it: method, tile size, every tile.
std::string layout_hash(const NetworkLayout& layout) { return ContentHash().add(to_json(layout).dump()).hex(); }

}  // namespace

void write_layout_file(const std::string& path, const NetworkLayout& layout, const nlohmann::json& extra) {
  nlohmann::json j = to_json(layout);
  if (extra.is_object())
    for (const auto& [key, value] : extra.items()) j[key] = value;
  j["content_hash"] = layout_hash(layout);
  write_file_atomic(path, j.dump() + "\n");
}

NetworkLayout read_layout_file(const std::string& path) {
  const nlohmann::json j = read_json_file(path, "the layout file");
  if (j.is_object())
    for (const auto& [key, value] : j.items())
      SXB_REQUIRE(kLayoutFileKeys.count(key),
                  fmt::format("{}: unknown key \"{}\" in a layout file (known: method, tile_rows, tile_cols, layers, "
                              "accounting, pruning, content_hash, weights_mask_hash)",
                              path, key));
  NetworkLayout layout = network_layout_from_json(j, path);
  if (j.contains("content_hash")) {  // files written before the hash have none
    const nlohmann::json& h = j.at("content_hash");
    SXB_REQUIRE(h.is_string() && h.get<std::string>() == layout_hash(layout),
                fmt::format("{}: the layout was edited after it was written (its method, tile size or tiles no "
                            "longer match its content_hash); prune again rather than edit a layout",
                            path));
  }
  if (j.contains("weights_mask_hash")) {  // files written before the identity have none
    const nlohmann::json& h = j.at("weights_mask_hash");
    SXB_REQUIRE(h.is_string() && h.get<std::string>().size() == 64,
                fmt::format("{}: weights_mask_hash must be a string of 64 hex digits", path));
    layout.weights_mask_hash = h.get<std::string>();
  }
  return layout;
}

std::string weights_mask_hash(nn::Vgg& model) {
  ContentHash hash;
  for (const std::string& layer : model.weight_layers()) {
    const nn::Tensor& w = model.parameter(layer + ".weight").value;
    const std::vector<float> values = nn::to_host(model.backend(), w);
    std::string nonzero(values.size(), '0');
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i] != 0.0f) nonzero[i] = '1';
    hash.add(layer).add(w.shape_string()).add(nonzero);
  }
  return hash.hex();
}

void record_weights_identity(const std::string& path, nn::Vgg& model) {
  nlohmann::json j = read_json_file(path, "the layout file");
  j["weights_mask_hash"] = weights_mask_hash(model);
  write_file_atomic(path, j.dump() + "\n");
}

void check_layout_for_model(const NetworkLayout& layout, nn::Vgg& model, const std::string& context,
                            bool zeros_too) {
  const std::vector<std::string> layers = model.weight_layers();
  for (const LayerLayout& l : layout.layers)
    SXB_REQUIRE(std::find(layers.begin(), layers.end(), l.layer) != layers.end(),
                fmt::format("{}: layer '{}' is not a conv/linear layer of the model", context, l.layer));
  for (const std::string& layer : layers) {
    const LayerLayout* l = layout.find(layer);
    SXB_REQUIRE(l, fmt::format("{}: no layout for layer '{}' of the model", context, layer));
    const nn::Tensor& w = model.parameter(layer + ".weight").value;
    const int n = w.dim(0), k = static_cast<int>(w.numel() / static_cast<std::size_t>(n));
    SXB_REQUIRE(l->inputs == k && l->outputs == n,
                fmt::format("{}: layer '{}' is {} x {} (K x N) in the layout, but the model's weight {} is {} x {}",
                            context, layer, l->inputs, l->outputs, w.shape_string(), k, n));
    if (!zeros_too) continue;
    std::vector<unsigned char> held(w.numel(), 0);
    for (const TilePlacement& t : l->tiles)
      for (int row : t.rows)
        for (int col : t.cols) held[static_cast<std::size_t>(col) * k + row] = 1;
    const std::vector<float> values = nn::to_host(model.backend(), w);
    long long stray = 0;
    for (std::size_t i = 0; i < values.size(); ++i) stray += (!held[i] && values[i] != 0.0f) ? 1 : 0;
    SXB_REQUIRE(stray == 0, fmt::format("{}: layer '{}': {} non-zero weights are held by no tile (the layout does "
                                        "not belong to these weights)",
                                        context, layer, stray));
  }
  if (zeros_too && !layout.weights_mask_hash.empty())
    SXB_REQUIRE(weights_mask_hash(model) == layout.weights_mask_hash,
                fmt::format("{}: the layout was written for other weights: the model's zero weights are not those of "
                            "the pruned model it records (weights_mask_hash); use the layout written beside the model",
                            context));
}

}  // namespace sxb
