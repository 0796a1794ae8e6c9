// Pictures of a layer's tiles for the HTML report: the g+ and g- conductances
// of each drawn tile pair as programmed (R x C, as they sit on the crossbar)
// and the NF of every tile column of both arrays. Computed only when asked,
// for the layers drawn, at most `max_cells` cells per array and layer (the
// first tiles in layout order), by programming and solving those tiles again:
// the normal evaluation path keeps nothing of this.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/scheduler.h"

namespace sxb {

struct HeatmapRequest {
  std::string layer;             // empty: every layer
  std::size_t max_cells = 16384;  // per array and layer; at least one tile is drawn
};

struct TileHeatmap {
  std::size_t tile = 0;                // index in the layer's layout
  int used_rows = 0, used_cols = 0;    // rows and columns the tile holds
  std::vector<float> g_pos, g_neg;     // R x C row-major, siemens
  std::vector<float> nf_pos, nf_neg;   // C: NF of each column (NaN for unused columns)
  // The block of the weight matrix the tile holds: first and last input (row
  // of K) and output (column of N); packed tiles may skip some in between.
  int first_input = 0, last_input = 0, first_output = 0, last_output = 0;
};

struct LayerHeatmap {
  std::string layer;
  int tile_rows = 0, tile_cols = 0;
  std::size_t tiles_total = 0;  // tile positions of the layer
  int grid_cols = 1;            // tiles per row of the picture (whole row blocks of the layer)
  double g_min = 0.0, g_max = 0.0;  // the device range, siemens
  std::vector<TileHeatmap> tiles;   // the drawn tiles

  double nf_max() const;   // over the drawn tiles' used columns
  double nf_mean() const;
};

// Error naming `request.layer` and the layers when the layout lacks it.
void check_heatmap_request(const NetworkLayout& layout, const HeatmapRequest& request);

// Heat maps of `request.layer` (or every layer) of `layout`, programmed with
// the configuration's devices and solved on `backend`. A named layer that
// the layout lacks is an Error naming it.
std::vector<LayerHeatmap> tile_heatmaps(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                        const CrossbarConfig& config, Backend backend, const HeatmapRequest& request);

// {"layer", "tiles", "tiles_drawn", "tile_rows", "tile_cols", "nf_column_mean", "nf_column_max"}: the summary
// kept in the JSON report (the pictures are not).
nlohmann::json to_json(const LayerHeatmap& h);

}  // namespace sxb
