#include "engine/evaluation/tile_heatmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/crossbar/mapping.h"
#include "engine/crossbar/mapping_scale.h"
#include "engine/crossbar/tile_solver.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

// NF of every column of one array: (ideal - actual) / ideal over the used rows
// driven at V_read (the NF of accumulate_nf, engine/crossbar/mapping.h).
std::vector<float> column_nf(const TilePlacement& p, int R, int C, const double* g, const double* t) {
  std::vector<float> nf(C, std::numeric_limits<float>::quiet_NaN());
  for (std::size_t j = 0; j < p.cols.size(); ++j) {
    double ideal = 0.0, actual = 0.0;
    for (std::size_t i = 0; i < p.rows.size(); ++i) {
      ideal += g[i * C + j];
      actual += t[j * R + i];
    }
    nf[j] = static_cast<float>((ideal - actual) / ideal);
  }
  return nf;
}

LayerHeatmap layer_heatmap(const MappedLayer& m, const LayerLayout& ll, int R, int C, const CrossbarConfig& config,
                           Backend backend, std::size_t max_cells) {
  const std::size_t cells = static_cast<std::size_t>(R) * C;
  const std::size_t drawn = std::min(ll.tiles.size(), std::max<std::size_t>(1, max_cells / cells));
  LayerHeatmap h;
  h.layer = ll.layer;
  h.tile_rows = R;
  h.tile_cols = C;
  h.tiles_total = ll.tiles.size();
  // Whole row blocks (the layer's column blocks side by side) per picture row, about as many
  // tiles across as down.
  const std::size_t blocks = (ll.outputs + C - 1) / C;
  const auto per_row = std::max<long>(1, std::lround(std::sqrt(static_cast<double>(drawn)) / blocks));
  h.grid_cols = static_cast<int>(std::clamp<std::size_t>(per_row * blocks, 1, drawn));
  const DeviceModel devices = config.devices();
  h.g_min = devices.g_min;
  h.g_max = devices.g_max;
  TileBatch batch = pair_batch(drawn, R, C, config);
  for (std::size_t q = 0; q < drawn; ++q) {
    const TilePlacement& p = ll.tiles[q];
    const std::vector<double> scales = tile_column_scales(m.matrix, m.outputs, p, config.scale_mode, m.scale);
    program_tile(m.matrix, m.outputs, m.layer, q, p, R, C, scales, devices, batch.conductance.data() + 2 * q * cells,
                 batch.conductance.data() + (2 * q + 1) * cells);
  }
  const std::vector<double> transfer = transfer_matrices(batch, backend);
  for (std::size_t q = 0; q < drawn; ++q) {
    const TilePlacement& p = ll.tiles[q];
    const double* g = batch.conductance.data() + 2 * q * cells;
    const double* t = transfer.data() + 2 * q * cells;
    TileHeatmap tile{q, static_cast<int>(p.rows.size()), static_cast<int>(p.cols.size()),
                     std::vector<float>(g, g + cells), std::vector<float>(g + cells, g + 2 * cells),
                     column_nf(p, R, C, g, t), column_nf(p, R, C, g + cells, t + cells)};
    if (!p.rows.empty() && !p.cols.empty()) {
      tile.first_input = *std::min_element(p.rows.begin(), p.rows.end());
      tile.last_input = *std::max_element(p.rows.begin(), p.rows.end());
      tile.first_output = *std::min_element(p.cols.begin(), p.cols.end());
      tile.last_output = *std::max_element(p.cols.begin(), p.cols.end());
    }
    h.tiles.push_back(std::move(tile));
  }
  return h;
}

template <typename F>
void for_each_nf(const LayerHeatmap& h, F f) {
  for (const TileHeatmap& t : h.tiles)
    for (const std::vector<float>* nf : {&t.nf_pos, &t.nf_neg})
      for (float v : *nf)
        if (!std::isnan(v)) f(static_cast<double>(v));
}

}  // namespace

double LayerHeatmap::nf_max() const {
  double m = 0.0;
  for_each_nf(*this, [&](double v) { m = std::max(m, v); });
  return m;
}

double LayerHeatmap::nf_mean() const {
  double s = 0.0;
  long long n = 0;
  for_each_nf(*this, [&](double v) { s += v, ++n; });
  return n ? s / static_cast<double>(n) : 0.0;
}

void check_heatmap_request(const NetworkLayout& layout, const HeatmapRequest& request) {
  if (request.layer.empty() || layout.find(request.layer)) return;
  std::string names;
  for (const LayerLayout& l : layout.layers) names += (names.empty() ? "" : ", ") + l.layer;
  throw Error(fmt::format("heat-map layer '{}' is not a layer of the model (layers: {})", request.layer, names));
}

std::vector<LayerHeatmap> tile_heatmaps(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                        const CrossbarConfig& config, Backend backend, const HeatmapRequest& request) {
  check_heatmap_request(layout, request);
  std::vector<LayerHeatmap> out;
  for (const LayerLayout& ll : layout.layers) {
    if (!request.layer.empty() && ll.layer != request.layer) continue;
    if (ll.tiles.empty()) continue;
    const auto m = std::find_if(layers.begin(), layers.end(), [&](const MappedLayer& x) { return x.layer == ll.layer; });
    SXB_REQUIRE(m != layers.end(), fmt::format("layout: layer '{}' is not a layer of the model", ll.layer));
    out.push_back(layer_heatmap(*m, ll, layout.tile_rows, layout.tile_cols, config, backend, request.max_cells));
  }
  return out;
}

nlohmann::json to_json(const LayerHeatmap& h) {
  return {{"layer", h.layer},         {"tiles", h.tiles_total},      {"tiles_drawn", h.tiles.size()},
          {"tile_rows", h.tile_rows}, {"tile_cols", h.tile_cols},    {"nf_column_mean", h.nf_mean()},
          {"nf_column_max", h.nf_max()}};
}

}  // namespace sxb
