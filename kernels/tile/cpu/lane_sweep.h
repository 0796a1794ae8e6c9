// The column sweep (tile_sweep.h) of W tiles at once, one per SIMD lane
// (lanes.h): the transfer-matrix path of batch_transfer.
//
// Every step is the one of the per-tile sweep in its inverse form: the SPD
// inverse of I + Y/g_w per word-line segment (lane_dense.h), the Horner
// product into T^T, the bit line added to Y (lane_column.h), and the source's
// inverse. The rows are padded to a multiple of 8 with an identity block,
// which only ever meets exact zeros. A lane needs the per-tile sweep instead
// where a segment is in the cancellation-free product form's range, or where
// a pivot is not positive; lane_transfer reports those lanes.
#pragma once

#include "kernels/tile/cpu/lanes.h"
#include "kernels/tile/tile.h"

namespace sxb::cpu {

// Whether tiles of this shape go through the lanes: their lane workspace at
// the widest width (kMaxLanes x (R^2 + 2 R C) doubles) is at most 16 MiB,
// i.e. up to ~256 x 256. A property of the shape alone, so a tile takes the
// same path in any batch and at either width.
bool lane_sweep_fits(int rows, int cols);

template <int W>
struct LaneWorkspace {
  LaneBuffer<W> A, Q_a, Q_b, panels, g, rho, k, e, scratch;
};

// Transfer matrices (each C x R row-major, see tile.h) of W tiles of one
// shape whose resistances are zero in the same places; tiles may repeat, and
// transfer[l] may be null (a padding lane). Returns the lanes (bit l) that
// must be re-solved by the per-tile sweep; their output is not written.
// Instantiated for W = 4 and 8; a lane's result is the same at both.
template <int W>
unsigned lane_transfer(const TileView (&tiles)[W], double* const (&transfer)[W], LaneWorkspace<W>& ws);

}  // namespace sxb::cpu
