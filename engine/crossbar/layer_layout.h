// Where the weights of each mapped layer sit on crossbar tiles.
//
// A mapped layer is a K x N matrix W (K = fan-in rows, N = outputs; see
// engine/crossbar/mapping.h). Every tile of the layer has the same geometry R x C and
// holds the weights W[rows[i]][cols[j]] of its row and column index maps;
// rows.size() <= R and cols.size() <= C. Unused rows are driven at 0 V and
// unused cells are programmed to G_min. A tile position costs two crossbars
// (the positive and the negative array of the differential pair).
//
// Dense layers are cut into ceil(K/R) x ceil(N/C) positions. Packed (pruned)
// layouts keep index maps: XCS tiles hold the rows of one row-block and the
// surviving columns packed side by side; XRS tiles hold the surviving rows of
// one column-block. A weight (k, n) that no tile holds is pruned: its
// effective weight is 0. Column rearrangement permutes `cols`
// across the tiles of a row-block.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/tile/tile.h"

namespace sxb {

struct TilePlacement {
  std::vector<int> rows;  // layer-matrix rows (inputs k) on tile rows 0, 1, ...
  std::vector<int> cols;  // layer-matrix columns (outputs n) on tile columns 0, 1, ...
};

struct LayerLayout {
  std::string layer;  // "features.0", ..., "classifier"
  int inputs = 0;     // K
  int outputs = 0;    // N
  std::vector<TilePlacement> tiles;

  // Error naming `context` and the layer for: sizes out of range, an empty
  // tile, an index outside [0, K) or [0, N), a tile with more than R rows or
  // C columns, a repeated index within a tile, and a weight (k, n) held by
  // more than one tile.
  void check(int tile_rows, int tile_cols, const std::string& context) const;
};

struct NetworkLayout {
  std::string method = "dense";  // "dense", "cf", "xcs", "xrs"
  int tile_rows = kDefaultTileDim, tile_cols = kDefaultTileDim;
  std::vector<LayerLayout> layers;  // in network order
  // Identity of the weights the layout was written for (layout_file.h:
  // weights_mask_hash); empty when unknown. Not part of to_json.
  std::string weights_mask_hash;

  void check(const std::string& context) const;
  // Crossbars = 2 x tile positions, summed over layers.
  long long crossbars() const;
  const LayerLayout* find(const std::string& layer) const;
};

// ceil(K/R) x ceil(N/C) tiles, row-blocks outer, column-blocks inner.
LayerLayout dense_layout(const std::string& layer, int inputs, int outputs, int tile_rows, int tile_cols);

// {"method", "tile_rows", "tile_cols", "layers": [{"layer", "inputs", "outputs",
//   "tiles": [{"rows": [...], "cols": [...]}]}]}; from_json checks the result
// (errors name `context`, e.g. the file).
nlohmann::json to_json(const NetworkLayout& layout);
NetworkLayout network_layout_from_json(const nlohmann::json& j, const std::string& context);

}  // namespace sxb
