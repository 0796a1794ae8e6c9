// Crossbar tile contract: the data every tile-solver backend consumes and produces.
//
// A tile has R rows (word lines, inputs) and C columns (bit lines, outputs).
// Device (i,j) is a conductance g[i*C + j] in siemens between row node r(i,j)
// and column node c(i,j). Row i is driven by v[i] through r_source into r(i,0);
// row nodes are chained by r_wire_row, the far end is open. Column nodes are
// chained by r_wire_col, the top is open, the bottom node reaches the sense
// amplifier's virtual ground through r_sink. All resistances in ohms; 0 is a short.
//
// The transfer matrix T (C x R, row-major) maps inputs to output currents:
// I = T v. G_eff = T^T is the tile's effective conductance matrix.
#pragma once

#include <cstddef>
#include <vector>

namespace sxb {

// The largest tile side (rows or columns) anything accepts, and the default
// tile side of every setting that has one (crossbar, layout, pruning).
inline constexpr int kMaxTileDim = 1024;
inline constexpr int kDefaultTileDim = 64;

struct TileResistances {
  double r_source = 500.0;   // driver output resistance, ohm
  double r_sink = 100.0;     // sense-amplifier input resistance, ohm
  double r_wire_row = 2.5;   // word-line segment between neighbouring cells, ohm
  double r_wire_col = 2.5;   // bit-line segment between neighbouring cells, ohm
};

// A non-owning view of one tile.
struct TileView {
  int rows = 0;
  int cols = 0;
  const double* conductance = nullptr;  // rows x cols, row-major, siemens
  TileResistances res;
};

// A batch of tiles of possibly different sizes, stored back to back.
// Resistances are given once for the batch or once per tile.
struct TileBatch {
  std::vector<int> rows, cols;
  std::vector<std::size_t> offset;      // start of tile k in `conductance` (and in T)
  std::vector<double> conductance;      // all tiles, each row-major R x C
  std::vector<TileResistances> resistances;  // size 1 (whole batch) or size()
  bool per_tile_resistances = false;

  std::size_t size() const { return rows.size(); }
  std::size_t total_cells() const { return conductance.size(); }

  // Appends a tile; `g` has rows*cols values. Returns its index.
  std::size_t add(int r, int c, const double* g);
  std::size_t add(int r, int c, const double* g, const TileResistances& res);

  const TileResistances& resistances_of(std::size_t k) const {
    return per_tile_resistances ? resistances[k] : resistances[0];
  }
  TileView tile(std::size_t k) const {
    return TileView{rows[k], cols[k], conductance.data() + offset[k], resistances_of(k)};
  }
};

}  // namespace sxb
