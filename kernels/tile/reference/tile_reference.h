// Plain reference tile solver: assembles the full nodal system of a tile and
// solves it with a direct Cholesky factorisation (LAPACK, banded when the node
// numbering allows it, dense otherwise). Zero resistances are shorts: the
// nodes they join are merged, and nodes shorted to a source or to ground are
// fixed. Slow and simple on purpose: it is the oracle of every fast path.
#pragma once

#include "kernels/tile/tile.h"

namespace sxb::reference {

// currents[n*C + j]: output current of column j for input vector n, where
// voltages[n*R + i] is the voltage applied to row i (n < n_vec).
void tile_currents(const TileView& tile, const double* voltages, int n_vec, double* currents);

// transfer[j*R + i]: output current of column j per volt on row i (C x R).
void tile_transfer(const TileView& tile, double* transfer);

}  // namespace sxb::reference
