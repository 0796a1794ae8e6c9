#include "kernels/tile/tile.h"

#include "kernels/common/error.h"

namespace sxb {

namespace {
std::size_t append(TileBatch& b, int r, int c, const double* g) {
  std::size_t k = b.size();
  b.rows.push_back(r);
  b.cols.push_back(c);
  b.offset.push_back(b.conductance.size());
  b.conductance.insert(b.conductance.end(), g, g + static_cast<std::size_t>(r) * c);
  return k;
}
}  // namespace

std::size_t TileBatch::add(int r, int c, const double* g) {
  SXB_REQUIRE(!per_tile_resistances,
              "TileBatch: tile added without resistances to a batch with per-tile resistances");
  if (resistances.empty()) resistances.emplace_back();
  return append(*this, r, c, g);
}

std::size_t TileBatch::add(int r, int c, const double* g, const TileResistances& res) {
  SXB_REQUIRE(per_tile_resistances || size() == 0,
              "TileBatch: per-tile resistances must be given for every tile");
  per_tile_resistances = true;
  resistances.push_back(res);
  return append(*this, r, c, g);
}

}  // namespace sxb
