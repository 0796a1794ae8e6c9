// Admittance of one bit line (column) seen from the row nodes of its devices,
// on the device: the math of kernels/cpu/column_admittance.cpp, split into a
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

#include "kernels/cuda/block_dense.cuh"

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
  const int m = bit_line_factor_size(rows, r_wire_col, r_sink);
  double inv_d = 0.0;
  for (int i = 0; i < m; ++i) {
    double diag = g_at(i) + (i > 0 ? g_w : 0.0);
    diag += i + 1 < m ? g_w : (r_sink > 0.0 ? 1.0 / r_sink : g_w);
    if (i > 0) diag -= g_w * g_w * inv_d;  // l_i^2 d_{i-1}
    inv_d = 1.0 / diag;
    factor[i] = inv_d;
  }
}

// Adds the bit line's S to Y and writes its sink weights a[q] = sum_p S_pq.
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
      for (int p = 0; p < n; ++p) {
        const double s = (p == q ? g_q : 0.0) - g[p] * g_q_total;
        sink_weight += s;
        if (p <= q) Y[at(q, p, ld)] += s;
      }
    } else if (r_wire_col == 0.0 || q >= m) {
      // Device straight to ground (shorted line to ground, or the grounded bottom node).
      Y[at(q, q, ld)] += g_q;
      sink_weight = g_q;
    } else {
      const double g_w = 1.0 / r_wire_col;
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
        const double s = (p == q ? g_q : 0.0) - g[p] * x;
        sink_weight += s;
        if (p <= q) Y[at(q, p, ld)] += s;
      }
    }
    a[q] = sink_weight;
  }
}

}  // namespace sxb::cuda
