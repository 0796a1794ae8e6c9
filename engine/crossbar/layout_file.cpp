#include "engine/crossbar/layout_file.h"

#include <fmt/format.h>

#include "models/io/atomic_file.h"
#include "engine/io/json_file.h"
#include "kernels/common/error.h"

namespace sxb {

std::string layout_path(const std::string& model_path) {
  const std::string ext = ".safetensors";
  const bool has_ext =
      model_path.size() > ext.size() && model_path.compare(model_path.size() - ext.size(), ext.size(), ext) == 0;
  return (has_ext ? model_path.substr(0, model_path.size() - ext.size()) : model_path) + ".layout.json";
}

void write_layout_file(const std::string& path, const NetworkLayout& layout, const nlohmann::json& extra) {
  nlohmann::json j = to_json(layout);
  if (extra.is_object())
    for (const auto& [key, value] : extra.items()) j[key] = value;
  write_file_atomic(path, j.dump() + "\n");
}

NetworkLayout read_layout_file(const std::string& path) {
  return network_layout_from_json(read_json_file(path, "the layout file"), path);
}

void check_layout_for_model(const NetworkLayout& layout, nn::Vgg& model, const std::string& context) {
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
}

}  // namespace sxb
