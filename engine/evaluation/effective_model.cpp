#include "engine/evaluation/effective_model.h"

#include <map>
#include <optional>

#include "engine/crossbar/mapping.h"

namespace sxb {

void with_effective_weights(nn::Vgg& model, const std::vector<LayerEffective>& layers, SparsePath path,
                            std::vector<std::string>* sparse_layers, const std::function<void()>& run) {
  nn::Backend& b = model.backend();
  std::map<std::string, nn::Tensor> dense;
  std::map<std::string, nn::SparseWeight> sparse;
  for (const LayerEffective& e : layers) {
    const nn::Tensor& w = model.parameter(e.layer + ".weight").value;
    std::vector<float> host(w.numel());
    weight_from_layer_matrix(e.w_eff.data(), e.outputs, e.inputs, host.data());
    if (use_sparse(path, density(e.w_eff), b.name())) {
      sparse.emplace(e.layer, nn::sparse_from_dense(b, host.data(), e.outputs, e.inputs));
      if (sparse_layers) sparse_layers->push_back(e.layer);
      continue;
    }
    nn::Tensor t = b.empty(w.shape());
    b.upload(host.data(), t);
    dense.emplace(e.layer, t);
  }
  model.set_weight_hook([&dense](const std::string& layer, const nn::Tensor&) -> std::optional<nn::Tensor> {
    const auto it = dense.find(layer);
    if (it == dense.end()) return std::nullopt;
    return it->second;
  });
  model.set_sparse_weight_hook([&sparse](const std::string& layer) -> const nn::SparseWeight* {
    const auto it = sparse.find(layer);
    return it == sparse.end() ? nullptr : &it->second;
  });
  const auto clear = [&model] {
    model.set_weight_hook(nullptr);
    model.set_sparse_weight_hook(nullptr);
  };
  try {
    run();
    clear();
  } catch (...) {
    clear();
    throw;
  }
}

EvalResult evaluate_with_weights(nn::Vgg& model, const Dataset& data, const Normalization& norm,
                                 const std::vector<LayerEffective>& layers, SparsePath path,
                                 std::vector<std::string>* sparse_layers) {
  EvalResult r;
  with_effective_weights(model, layers, path, sparse_layers, [&] { r = evaluate(model, data, norm); });
  return r;
}

std::vector<MappedLayer> mapped_layers(nn::Vgg& model) {
  std::vector<MappedLayer> out;
  for (const std::string& name : model.weight_layers()) {
    const nn::Tensor& w = model.parameter(name + ".weight").value;
    const int outputs = w.dim(0);
    const int inputs = static_cast<int>(w.numel() / static_cast<std::size_t>(outputs));
    std::vector<float> host(w.numel());
    model.backend().download(w, host.data());
    out.push_back({name, inputs, outputs, layer_matrix(host.data(), outputs, inputs), 0.0});
  }
  return out;
}

NetworkLayout dense_network_layout(const std::vector<MappedLayer>& layers, int tile_rows, int tile_cols) {
  NetworkLayout layout;
  layout.tile_rows = tile_rows;
  layout.tile_cols = tile_cols;
  for (const MappedLayer& m : layers)
    layout.layers.push_back(dense_layout(m.layer, m.inputs, m.outputs, tile_rows, tile_cols));
  return layout;
}

}  // namespace sxb
