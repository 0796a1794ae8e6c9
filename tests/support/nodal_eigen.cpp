#include "tests/support/nodal_eigen.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <Eigen/Dense>
#include <Eigen/SparseCholesky>
#include <Eigen/SparseLU>

namespace sxb::nodal_eigen {

namespace {

using Extended = long double;
template <typename Scalar>
using Sparse = Eigen::SparseMatrix<Scalar>;
template <typename Scalar>
using Dense = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

template <typename Scalar>
Scalar conductance_of(double ohm, const char* name) {
  if (!(ohm > 0.0)) throw std::invalid_argument(std::string("nodal_eigen: ") + name + " must be > 0 ohm");
  return Scalar(1) / Scalar(ohm);
}

// Stamps every element of the tile, in Scalar arithmetic, onto the node
// layout of NodalSystem.
template <typename Scalar>
Sparse<Scalar> assemble_as(const TileView& tile, const NodalSystem& layout) {
  const Scalar g_source = conductance_of<Scalar>(tile.res.r_source, "r_source");
  const Scalar g_sink = conductance_of<Scalar>(tile.res.r_sink, "r_sink");
  const Scalar g_row = conductance_of<Scalar>(tile.res.r_wire_row, "r_wire_row");
  const Scalar g_col = conductance_of<Scalar>(tile.res.r_wire_col, "r_wire_col");
  const int R = tile.rows, C = tile.cols;

  std::vector<Eigen::Triplet<Scalar>> stamps;
  stamps.reserve(static_cast<std::size_t>(12) * R * C + R + C);
  auto between = [&stamps](int a, int b, Scalar g) {
    stamps.emplace_back(a, a, g);
    stamps.emplace_back(b, b, g);
    stamps.emplace_back(a, b, -g);
    stamps.emplace_back(b, a, -g);
  };
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) {
      between(layout.row_node(i, j), layout.col_node(i, j), Scalar(tile.conductance[static_cast<std::size_t>(i) * C + j]));
      if (j + 1 < C) between(layout.row_node(i, j), layout.row_node(i, j + 1), g_row);
      if (i + 1 < R) between(layout.col_node(i, j), layout.col_node(i + 1, j), g_col);
    }
  for (int i = 0; i < R; ++i) stamps.emplace_back(layout.row_node(i, 0), layout.row_node(i, 0), g_source);
  for (int j = 0; j < C; ++j) stamps.emplace_back(layout.sink_node(j), layout.sink_node(j), g_sink);

  Sparse<Scalar> g(layout.node_count(), layout.node_count());
  g.setFromTriplets(stamps.begin(), stamps.end());  // sums the stamps of each entry
  g.makeCompressed();
  return g;
}

// Node layout and source/sink conductances, without the matrix.
NodalSystem layout_of(const TileView& tile) {
  NodalSystem s;
  s.rows = tile.rows;
  s.cols = tile.cols;
  s.g_source = conductance_of<double>(tile.res.r_source, "r_source");
  s.g_sink = conductance_of<double>(tile.res.r_sink, "r_sink");
  return s;
}

// Output currents (C x n) for input voltages (R x n, one column per vector).
Dense<double> oracle_solve(const TileView& tile, const Dense<double>& inputs) {
  const NodalSystem s = layout_of(tile);
  const Sparse<Extended> g = assemble_as<Extended>(tile, s);
  const Extended g_source = conductance_of<Extended>(tile.res.r_source, "r_source");

  Dense<Extended> injected = Dense<Extended>::Zero(s.node_count(), inputs.cols());
  for (int i = 0; i < s.rows; ++i)
    for (Eigen::Index n = 0; n < inputs.cols(); ++n) injected(s.row_node(i, 0), n) = g_source * Extended(inputs(i, n));

  Eigen::SimplicialLDLT<Sparse<double>> ldlt(Sparse<double>(g.cast<double>()));
  if (ldlt.info() != Eigen::Success) throw std::runtime_error("nodal_eigen: LDLT factorisation failed");

  auto sink_rows = [&s](const auto& v) {
    return v.block(s.sink_node(0), 0, s.cols, v.cols());  // c(R-1, 0..C-1) are consecutive
  };
  // Refine until the correction of the outputs is below 1e-12 of them, or
  // until it stops shrinking (the long-double rounding floor, ~1e-12 relative
  // on the worst-conditioned tiles) below 1e-10 of them.
  constexpr int kMaxSteps = 30;
  constexpr double kConverged = 1e-12, kFloor = 1e-10;
  Dense<Extended> v = Dense<Extended>::Zero(s.node_count(), inputs.cols());
  Extended previous_change = 0;
  for (int step = 0;; ++step) {
    const Dense<Extended> residual = injected - g * v;
    const Dense<Extended> correction = ldlt.solve(Dense<double>(residual.cast<double>())).cast<Extended>();
    v += correction;
    const Extended change = sink_rows(correction).cwiseAbs().maxCoeff();
    const Extended scale = sink_rows(v).cwiseAbs().maxCoeff();
    if (step > 0) {
      if (change <= Extended(kConverged) * scale) break;
      if (change > Extended(0.5) * previous_change && change <= Extended(kFloor) * scale) break;
    }
    if (step == kMaxSteps || (step > 0 && change > Extended(0.5) * previous_change))
      throw std::runtime_error("nodal_eigen: iterative refinement stalled at a relative change of " +
                               std::to_string(static_cast<double>(change / scale)) + " for a " +
                               std::to_string(s.rows) + "x" + std::to_string(s.cols) + " tile");
    previous_change = change;
  }
  const Extended g_sink = conductance_of<Extended>(tile.res.r_sink, "r_sink");
  return Dense<double>((sink_rows(v) * g_sink).cast<double>());
}

}  // namespace

NodalSystem assemble(const TileView& tile) {
  NodalSystem s = layout_of(tile);
  s.conductance = assemble_as<double>(tile, s);
  return s;
}

std::vector<double> currents(const TileView& tile, const double* voltages, int n_vec) {
  const Dense<double> inputs = Eigen::Map<const Dense<double>>(voltages, tile.rows, n_vec);
  const Dense<double> out = oracle_solve(tile, inputs);  // C x n_vec, column-major = currents[n*C + j]
  return std::vector<double>(out.data(), out.data() + out.size());
}

std::vector<double> transfer(const TileView& tile) {
  const Dense<double> out = oracle_solve(tile, Dense<double>::Identity(tile.rows, tile.rows));  // C x R
  std::vector<double> t(out.size());
  Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(t.data(), out.rows(), out.cols()) = out;
  return t;
}

std::vector<double> transfer_sparse_lu(const NodalSystem& s) {
  Eigen::SparseLU<Sparse<double>> lu;
  lu.analyzePattern(s.conductance);
  lu.factorize(s.conductance);
  if (lu.info() != Eigen::Success) throw std::runtime_error("nodal_eigen: SparseLU factorisation failed");
  // Right-hand side i: 1 V on row i, 0 V on the others.
  Dense<double> injected = Dense<double>::Zero(s.node_count(), s.rows);
  for (int i = 0; i < s.rows; ++i) injected(s.row_node(i, 0), i) = s.g_source;
  const Dense<double> v = lu.solve(injected);
  std::vector<double> t(static_cast<std::size_t>(s.cols) * s.rows);
  for (int j = 0; j < s.cols; ++j)
    for (int i = 0; i < s.rows; ++i) t[static_cast<std::size_t>(j) * s.rows + i] = v(s.sink_node(j), i) * s.g_sink;
  return t;
}

std::vector<double> transfer_sparse_lu(const TileView& tile) { return transfer_sparse_lu(assemble(tile)); }

}  // namespace sxb::nodal_eigen
