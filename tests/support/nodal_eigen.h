// Independent nodal model of one crossbar tile, assembled and solved with
// Eigen. It is the oracle of tests/tile/test_tile_eigen.cpp and the general sparse
// LU baseline of bench/bench_solver.cpp. Written from the circuit definition
// (kernels/tile/tile.h) alone; it shares no code with kernels/, so
// one bug cannot hide in both.
//
// Only strictly positive resistances are supported: every element is stamped
// as a finite conductance 1/r. Zero-resistance shorts (which need node merging)
// are deliberately not handled here; assemble() rejects them.
#pragma once

#include <vector>

#include <Eigen/SparseCore>

#include "kernels/tile/tile.h"

namespace sxb::nodal_eigen {

// The 2*R*C node conductance system G V = J of one tile.
// Node layout: word-line node r(i,j) is i*C + j, bit-line node c(i,j) is
// R*C + i*C + j. Ground is eliminated; each ideal source v[i] behind r_source
// becomes its Norton equivalent (conductance g_source to ground at r(i,0),
// injected current g_source * v[i]); the sense resistor is a conductance
// g_sink from c(R-1,j) to ground.
struct NodalSystem {
  int rows = 0;
  int cols = 0;
  double g_source = 0.0;  // 1 / r_source, siemens
  double g_sink = 0.0;    // 1 / r_sink, siemens
  Eigen::SparseMatrix<double> conductance;  // symmetric positive definite, column-major

  int node_count() const { return 2 * rows * cols; }
  int row_node(int i, int j) const { return i * cols + j; }
  int col_node(int i, int j) const { return rows * cols + i * cols + j; }
  // Bottom node of column j; its voltage / r_sink is the column's output current.
  int sink_node(int j) const { return col_node(rows - 1, j); }
};

// Assembles the system in double. Throws std::invalid_argument for a
// resistance that is not > 0.
NodalSystem assemble(const TileView& tile);

// --- The oracle -------------------------------------------------------------
// A sparse Cholesky solve (Eigen::SimplicialLDLT, double) followed by
// iterative refinement whose residuals use a long-double assembly of the
// system, repeated until the correction of the output currents is below 1e-12
// of them (or, on ill-conditioned tiles, stalls at the long-double floor below
// 1e-10; std::runtime_error otherwise). This keeps the oracle far more
// accurate than the 1e-9 the tests ask for, also where the circuit is
// ill-conditioned (10 kOhm source and sink with 0.01 Ohm wires), where a plain
// double-precision solve already loses about eight digits.

// Output currents currents[n*C + j] for the n_vec input vectors voltages[n*R + i].
std::vector<double> currents(const TileView& tile, const double* voltages, int n_vec);

// Transfer matrix, C x R row-major (transfer[j*R + i] = current of column j
// per volt on row i).
std::vector<double> transfer(const TileView& tile);

// --- The general way (the speed baseline) ---------------------------------------
// Transfer matrix by Eigen::SparseLU in plain double: analyse, factorise and
// solve R right-hand sides, one per unit input (the identity).
std::vector<double> transfer_sparse_lu(const NodalSystem& system);
std::vector<double> transfer_sparse_lu(const TileView& tile);

}  // namespace sxb::nodal_eigen
