// The `spread` policy of column rearrangement (engine/rearrangement/rearrange.h).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/rearrangement/rearrange.h"
#include "kernels/common/error.h"

namespace sxb {

namespace {

// Extra tile positions per row-block: each goes to the block with the most
// columns per tile (ties: the first block), while a block has fewer tiles
// than columns.
std::vector<std::size_t> extra_tiles(const LayerLayout& layer, const std::vector<std::vector<std::size_t>>& blocks,
                                     long long budget) {
  std::vector<std::size_t> columns(blocks.size(), 0), add(blocks.size(), 0);
  for (std::size_t b = 0; b < blocks.size(); ++b)
    for (std::size_t t : blocks[b]) columns[b] += layer.tiles[t].cols.size();
  for (long long e = 0; e < budget; ++e) {
    std::size_t best = blocks.size();
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const std::size_t tiles = blocks[b].size() + add[b];
      if (tiles >= columns[b]) continue;
      // columns[b] / tiles > columns[best] / tiles_best, exactly
      if (best == blocks.size() || columns[b] * (blocks[best].size() + add[best]) > columns[best] * tiles) best = b;
    }
    if (best == blocks.size()) break;
    ++add[best];
  }
  return add;
}

// Deals the columns of `block` over its tiles and `added` new tiles (appended
// to the layer): tile sizes differ by at most one; largest column total first,
// each to the tile with room and the lowest total conductance (unused cells
// at G_min included); columns in increasing index order within each tile.
void spread_block(LayerLayout& layer, const std::vector<std::size_t>& block, std::size_t added,
                  const std::map<int, double>& total, int tile_rows, int tile_cols, double g_min) {
  std::vector<int> columns;
  for (std::size_t t : block) columns.insert(columns.end(), layer.tiles[t].cols.begin(), layer.tiles[t].cols.end());
  std::sort(columns.begin(), columns.end(), [&](int a, int b) {
    const double ga = total.at(a), gb = total.at(b);
    return ga != gb ? ga > gb : a < b;
  });
  const std::vector<int> rows = layer.tiles[block.front()].rows;
  const std::size_t m = block.size() + added, n = columns.size();
  std::vector<std::size_t> room(m);
  std::vector<double> load(m);
  for (std::size_t k = 0; k < m; ++k) {
    room[k] = n / m + (k < n % m ? 1 : 0);
    const long long unused = static_cast<long long>(tile_rows) * tile_cols -
                             static_cast<long long>(rows.size() * room[k]);
    load[k] = 2.0 * static_cast<double>(unused) * g_min;
  }
  std::vector<std::vector<int>> dealt(m);
  for (int c : columns) {
    std::size_t best = m;
    for (std::size_t k = 0; k < m; ++k)
      if (dealt[k].size() < room[k] && (best == m || load[k] < load[best])) best = k;
    dealt[best].push_back(c);
    load[best] += total.at(c);
  }
  for (std::vector<int>& d : dealt) std::sort(d.begin(), d.end());
  for (std::size_t k = 0; k < block.size(); ++k) layer.tiles[block[k]].cols = std::move(dealt[k]);
  for (std::size_t k = block.size(); k < m; ++k) layer.tiles.push_back({rows, std::move(dealt[k])});
}

}  // namespace

long long spread_budget(std::size_t positions, double extra) {
  SXB_REQUIRE(std::isfinite(extra) && extra >= 0.0 && extra <= 100.0,
              Message{Key{"rearrange.extra"},
                      fmt::format(" = {} must be in [0, 100] (a share of the layer's crossbars)", extra)});
  const double e = extra * static_cast<double>(positions);
  return static_cast<long long>(std::floor(e + 1e-9 * std::max(1.0, e)));
}

LayerLayout spread_layer(const MappedLayer& m, const LayerLayout& layer, int tile_rows, int tile_cols,
                         const DeviceModel& devices, double extra) {
  LayerLayout out = layer;
  const std::vector<std::vector<std::size_t>> blocks = row_blocks(layer);
  const std::vector<std::size_t> add = extra_tiles(layer, blocks, spread_budget(layer.tiles.size(), extra));
  const DeviceModel ideal{devices.g_min, devices.g_max};
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    if (add[b] == 0) continue;
    std::map<int, double> total;
    const std::vector<int>& rows = layer.tiles[blocks[b].front()].rows;
    for (std::size_t t : blocks[b])
      for (int n : layer.tiles[t].cols) total[n] = column_conductance(m, rows, n, ideal).total;
    spread_block(out, blocks[b], add[b], total, tile_rows, tile_cols, devices.g_min);
  }
  return out;
}

}  // namespace sxb
