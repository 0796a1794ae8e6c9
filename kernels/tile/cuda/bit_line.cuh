// Admittance of one bit line (column) seen from the row nodes of its devices,
// on the device: the math of kernels/tile/cpu/column_admittance.cpp, split into a
// per-column factorisation and a per-row-node solve so that a thread block
// can work on all R right-hand sides at once.
//
// The free column nodes c_0..c_{m-1} (m = R, or R-1 when r_sink = 0 grounds
// the bottom node) form a chain with tridiagonal nodal matrix K = L D L^T,
// L unit lower bidiagonal with L_{i,i-1} = -g_w / d_{i-1} (g_w = 1/r_wire_col).
// Column q of S is g_q e_q - diag(g) K^{-1} g_q e_q. With r_wire_col = 0 the
// bit line is one node: S = diag(g) - g g^T / (1/r_sink + sum g) (just
// diag(g) if r_sink = 0 as well). Zero resistances are shorts.
#pragma once

#include <cstddef>

#include "kernels/tile/cuda/block_dense.cuh"

namespace sxb::cuda {

// Number of values bit_line_factor writes.
SXB_DEVICE int bit_line_factor_size(int rows, double r_wire_col, double r_sink) {
  if (r_wire_col == 0.0) return r_sink > 0.0 ? 1 : 0;
  return r_sink > 0.0 ? rows : rows - 1;
}

// One thread, one bit line. g: the line's R device conductances, g_stride
// apart. factor <- 1/d_i (i < m) for r_wire_col > 0; otherwise the shorted
// line's total conductance 1/r_sink + sum g (only when r_sink > 0).
SXB_DEVICE void bit_line_factor(int rows, const double* g, int g_stride, double r_wire_col, double r_sink,
                                double* factor) {
  auto g_at = [&](int i) { return g[static_cast<std::size_t>(i) * g_stride]; };
  if (r_wire_col == 0.0) {
    if (r_sink == 0.0) return;
    double total = 1.0 / r_sink;
    for (int i = 0; i < rows; ++i) total += g_at(i);
    factor[0] = total;
    return;
  }
  const double g_w = 1.0 / r_wire_col;
  const double g_end = r_sink > 0.0 ? 1.0 / r_sink : g_w;  // from c_{m-1} to ground
  const int m = bit_line_factor_size(rows, r_wire_col, r_sink);
  // d_i = h_i + (conductance below node i) with the series-parallel reduction
  // h_i = g_i + g_w h_{i-1} / (g_w + h_{i-1}): positive terms only, no
  // cancellation when g_w >> g (as in kernels/tile/cpu/column_admittance.cpp).
  double h = 0.0;
  for (int i = 0; i < m; ++i) {
    h = i == 0 ? g_at(0) : g_at(i) + g_w * h / (g_w + h);
    factor[i] = 1.0 / (h + (i + 1 < m ? g_w : g_end));
  }
}

// Adds the bit line's S to Y and writes its sink weights a[q]: the sink
// current per volt on row q, from the bottom free node's voltage (equal to
// sum_p S_pq, which cancels badly when r_sink is large).
// One thread per row node q (right-hand side g_q e_q); thread q writes row q
// of Y's lower triangle (Y_qp += S_pq, p <= q; S is symmetric) and uses row q
// of X (n x n, leading dimension ld) for its forward-substitution values.
// g, factor: the line's conductances and bit_line_factor. No sync inside.
template <class Block>
SXB_DEVICE void add_bit_line(const Block& blk, int n, int ld, const double* g, const double* factor,
                             double r_wire_col, double r_sink, double* Y, double* X, double* a) {
  for (int q = blk.thread(); q < n; q += blk.threads()) {
    const double g_q = g[q];
    double sink_weight = 0.0;
    const int m = bit_line_factor_size(n, r_wire_col, r_sink);
    if (r_wire_col == 0.0 && r_sink > 0.0) {
      const double g_q_total = g_q / factor[0];
      for (int p = 0; p <= q; ++p) Y[at(q, p, ld)] += (p == q ? g_q : 0.0) - g[p] * g_q_total;
      sink_weight = g_q_total / r_sink;
    } else if (r_wire_col == 0.0 || q >= m) {
      // Device straight to ground (shorted line to ground, or the grounded bottom node).
      Y[at(q, q, ld)] += g_q;
      sink_weight = g_q;
    } else {
      const double g_w = 1.0 / r_wire_col;
      const double g_end = r_sink > 0.0 ? 1.0 / r_sink : g_w;
      // y = L^{-1} g_q e_q, zero above q.
      double y = g_q;
      X[at(q, q, ld)] = y;
      for (int i = q + 1; i < m; ++i) {
        y *= g_w * factor[i - 1];
        X[at(q, i, ld)] = y;
      }
      // x = L^{-T} D^{-1} y from the bottom up; S_pq = g_q [p == q] - g_p x_p.
      double x = 0.0;
      for (int p = m - 1; p >= 0; --p) {
        x = p >= q ? factor[p] * (X[at(q, p, ld)] + g_w * x) : g_w * factor[p] * x;
        if (p == m - 1) sink_weight = g_end * x;
        if (p <= q) Y[at(q, p, ld)] += (p == q ? g_q : 0.0) - g[p] * x;
      }
    }
    a[q] = sink_weight;
  }
}

}  // namespace sxb::cuda
