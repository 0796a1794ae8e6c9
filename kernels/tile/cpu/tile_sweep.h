// Fast CPU tile solver: exact structured elimination ("column sweep").
//
// Sweeping from the open far end of the word lines (column C-1) towards the
// drivers, Y_j (R x R) is the admittance seen from the row nodes r(.,j) of
// everything at and beyond column j:
//   Y_{C-1} = S_{C-1},   Y_j = S_j + W(Y_{j+1}),
//   W(Y)    = Y - Y (g_w I + Y)^{-1} Y          (a word-line segment in series),
// with S_j the bit-line admittance (column_admittance.h) and g_w = 1/r_wire_row.
// Row voltages propagate as V_{j+1} = M_{j+1} V_j, M = g_w (g_w I + Y)^{-1},
// V_0 = P v with P = g_s (g_s I + Y_0)^{-1}, and the sink current of column j
// is a_j V_j with a_j = 1^T S_j. Hence, all matrices being symmetric,
//   T^T[:, j] = P M_1 M_2 ... M_j a_j^T,
// accumulated Horner-style during the same sweep. Cost per tile: see
// sweep_multiply_adds; no iteration, so nothing can fail to converge (every
// factorised matrix is SPD).
#pragma once

#include <vector>

#include "kernels/tile/tile.h"

namespace sxb::cpu {

// Ratio g_w / max diag(Y) above which a word-line segment's W = g I - g^2 (g I + Y)^{-1}
// loses too many digits to cancellation (error ~ C eps ratio); the
// cancellation-free product form is used then.
inline constexpr double kCancellationLimit = 1e4;

// Multiply-adds of one transfer extraction (the inverse form, no
// cancellation fallback): per word-line segment and for the source an SPD
// inverse (R^3 / 2) and the Horner product (R^2 x the columns beyond it),
// plus ~2 R^2 per bit line. 64 x 64: 17.4 M.
double sweep_multiply_adds(int rows, int cols);

// transfer: C x R row-major (see tile.h).
void tile_transfer(const TileView& tile, double* transfer);

// currents[n*C + j] for the n_vec input vectors voltages[n*R + i]; solves
// per vector (forward substitution through stored factors), not through T.
void tile_currents(const TileView& tile, const double* voltages, int n_vec, double* currents);

// Whether batch_transfer takes the lanes, and how many: `native` takes as
// many tiles as one vector register has doubles (native_lane_width(): 8 with
// AVX-512, 4 with AVX2 and FMA, none on the baseline, where GCC would split
// the vectors through memory and the lanes run 2-3x slower than the per-tile
// sweep, docs/performance.md); `width8`, `width4` and `never` force a
// choice, for tests and benchmarks. A lane's result is the same at either
// width.
enum class LaneUse { native, width8, width4, never };
int native_lane_width();

// All tiles of a batch, OpenMP-parallel. transfer: the batch's tiles back to
// back at batch.offset[k] (each C x R). With the lanes, tiles of one shape
// whose resistances are zero in the same places go through them
// (lane_sweep.h), a lane width at a time in batch order, the last group padded with
// copies of its first tile; a tile the lanes cannot take (see lane_transfer)
// and tiles too large for them take the per-tile sweep. Either way a tile's
// result depends on the tile alone, not on the rest of the batch or the
// thread count. Returns the indices of tiles whose factorisation failed (not
// expected for valid, finite input); the caller re-solves those with the
// reference.
std::vector<std::size_t> batch_transfer(const TileBatch& batch, double* transfer, LaneUse use = LaneUse::native);

}  // namespace sxb::cpu
