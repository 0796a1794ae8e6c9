// Crossbar accounting of a (pruned) network layout against the unpruned
// model at the same tile size: per layer and in total, the
// weights held by tiles, sparsity = 1 - held / dense weights, occupied tile
// positions, crossbars = 2 x positions (the differential pair), and
// CCR = crossbars(unpruned) / crossbars(pruned).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/layer_layout.h"
#include "models/vgg.h"

namespace sxb {

struct LayerAccount {
  std::string layer;  // "total" for the sum
  int dense_inputs = 0, dense_outputs = 0;  // K x N of the unpruned layer
  int inputs = 0, outputs = 0;              // K x N of the pruned layer (cf: shrunk)
  long long dense_weights = 0, weights = 0;  // weights held by tiles
  long long dense_tiles = 0, tiles = 0;      // occupied tile positions

  double sparsity() const;
  long long dense_crossbars() const { return 2 * dense_tiles; }
  long long crossbars() const { return 2 * tiles; }
  double ccr() const;  // dense_crossbars / crossbars (infinite when no tile is left)
};

struct CrossbarAccount {
  std::string method;
  int tile_rows = 0, tile_cols = 0;
  std::vector<LayerAccount> layers;
  LayerAccount total;
};

// The unpruned layout of every weight layer of `model` (dense_layout).
NetworkLayout dense_network_layout(nn::Vgg& model, int tile_rows, int tile_cols);

// Layers are matched by name; both layouts must have the same tile size and
// the same layers (an Error otherwise).
CrossbarAccount account_crossbars(const NetworkLayout& pruned, const NetworkLayout& dense);

nlohmann::json to_json(const CrossbarAccount& a);
// A fixed-width text table, one line per layer and the total.
std::string format_table(const CrossbarAccount& a);

}  // namespace sxb
