#include "engine/pruning/pruning_accounting.h"

#include <fmt/format.h>

#include <limits>

#include "kernels/common/error.h"

namespace sxb {
namespace {

long long held_weights(const LayerLayout& l) {
  long long n = 0;
  for (const TilePlacement& t : l.tiles) n += static_cast<long long>(t.rows.size()) * static_cast<long long>(t.cols.size());
  return n;
}

}  // namespace

double LayerAccount::sparsity() const {
  return dense_weights ? 1.0 - static_cast<double>(weights) / static_cast<double>(dense_weights) : 0.0;
}

double LayerAccount::ccr() const {
  return tiles ? static_cast<double>(dense_tiles) / static_cast<double>(tiles) : std::numeric_limits<double>::infinity();
}

NetworkLayout dense_network_layout(nn::Vgg& model, int tile_rows, int tile_cols) {
  NetworkLayout out;
  out.tile_rows = tile_rows;
  out.tile_cols = tile_cols;
  for (const std::string& layer : model.weight_layers()) {
    const nn::Tensor& w = model.parameter(layer + ".weight").value;
    const int n = w.dim(0);
    out.layers.push_back(dense_layout(layer, static_cast<int>(w.numel() / static_cast<std::size_t>(n)), n, tile_rows,
                                      tile_cols));
  }
  return out;
}

CrossbarAccount account_crossbars(const NetworkLayout& pruned, const NetworkLayout& dense) {
  SXB_REQUIRE(pruned.tile_rows == dense.tile_rows && pruned.tile_cols == dense.tile_cols,
              fmt::format("crossbar accounting: the pruned layout uses {}x{} tiles, the unpruned one {}x{}",
                          pruned.tile_rows, pruned.tile_cols, dense.tile_rows, dense.tile_cols));
  SXB_REQUIRE(pruned.layers.size() == dense.layers.size(),
              fmt::format("crossbar accounting: {} pruned layers, {} unpruned", pruned.layers.size(),
                          dense.layers.size()));
  CrossbarAccount a;
  a.method = pruned.method;
  a.tile_rows = pruned.tile_rows;
  a.tile_cols = pruned.tile_cols;
  a.total.layer = "total";
  for (const LayerLayout& d : dense.layers) {
    const LayerLayout* p = pruned.find(d.layer);
    SXB_REQUIRE(p, "crossbar accounting: the pruned layout has no layer '" + d.layer + "'");
    LayerAccount l;
    l.layer = d.layer;
    l.dense_inputs = d.inputs;
    l.dense_outputs = d.outputs;
    l.inputs = p->inputs;
    l.outputs = p->outputs;
    l.dense_weights = static_cast<long long>(d.inputs) * d.outputs;
    l.weights = held_weights(*p);
    l.dense_tiles = static_cast<long long>(d.tiles.size());
    l.tiles = static_cast<long long>(p->tiles.size());
    a.total.dense_weights += l.dense_weights;
    a.total.weights += l.weights;
    a.total.dense_tiles += l.dense_tiles;
    a.total.tiles += l.tiles;
    a.layers.push_back(l);
  }
  return a;
}

namespace {

nlohmann::json layer_json(const LayerAccount& l) {
  nlohmann::json j = {{"layer", l.layer},
                      {"dense_weights", l.dense_weights},
                      {"weights", l.weights},
                      {"sparsity", l.sparsity()},
                      {"dense_tiles", l.dense_tiles},
                      {"tiles", l.tiles},
                      {"dense_crossbars", l.dense_crossbars()},
                      {"crossbars", l.crossbars()}};
  // JSON has no infinity: a layer with no tile left has CCR null.
  j["ccr"] = l.tiles ? nlohmann::json(l.ccr()) : nlohmann::json(nullptr);
  if (l.layer != "total") {
    j["dense_shape"] = {l.dense_inputs, l.dense_outputs};
    j["shape"] = {l.inputs, l.outputs};
  }
  return j;
}

}  // namespace

nlohmann::json to_json(const CrossbarAccount& a) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerAccount& l : a.layers) layers.push_back(layer_json(l));
  return {{"method", a.method},
          {"tile_rows", a.tile_rows},
          {"tile_cols", a.tile_cols},
          {"layers", layers},
          {"total", layer_json(a.total)}};
}

std::string format_table(const CrossbarAccount& a) {
  std::string s = fmt::format("{} pruning, {}x{} tiles (crossbars = 2 x tile positions; CCR vs the unpruned model)\n",
                              a.method, a.tile_rows, a.tile_cols);
  s += fmt::format("{:<12} {:>13} {:>13} {:>9} {:>11} {:>11} {:>8}\n", "layer", "dense K x N", "pruned K x N",
                   "sparsity", "crossbars", "(dense)", "CCR");
  auto line = [&](const LayerAccount& l, bool shapes) {
    const std::string ccr = l.tiles ? fmt::format("{:.2f}", l.ccr()) : "inf";
    s += fmt::format("{:<12} {:>13} {:>13} {:>8.2f}% {:>11} {:>11} {:>8}\n", l.layer,
                     shapes ? fmt::format("{}x{}", l.dense_inputs, l.dense_outputs) : "",
                     shapes ? fmt::format("{}x{}", l.inputs, l.outputs) : "", 100.0 * l.sparsity(), l.crossbars(),
                     l.dense_crossbars(), ccr);
  };
  for (const LayerAccount& l : a.layers) line(l, true);
  line(a.total, false);
  return s;
}

}  // namespace sxb
