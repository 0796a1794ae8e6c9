#include "kernels/tile/cpu/column_admittance.h"

#include <algorithm>

namespace sxb::cpu {

void column_admittance(int R, const double* g, int g_stride, double r_wire_col, double r_sink,
                       double* S, double* a, std::vector<double>& scratch) {
  std::fill(S, S + static_cast<std::size_t>(R) * R, 0.0);
  auto gi = [&](int i) { return g[static_cast<std::size_t>(i) * g_stride]; };

  if (r_wire_col == 0.0) {
    // The whole bit line is one node, grounded (r_sink = 0) or behind r_sink.
    for (int i = 0; i < R; ++i) S[i + i * R] = gi(i);
    if (r_sink == 0.0) {
      for (int i = 0; i < R; ++i) a[i] = gi(i);
      return;
    }
    const double g_sink = 1.0 / r_sink;
    double total = g_sink;
    for (int i = 0; i < R; ++i) total += gi(i);
    for (int q = 0; q < R; ++q) {
      a[q] = g_sink * gi(q) / total;
      for (int p = 0; p < R; ++p) S[p + q * R] -= gi(p) * gi(q) / total;
    }
    return;
  }

  // Free column nodes c_0..c_{m-1}; with r_sink = 0 the bottom node is ground.
  const double gw = 1.0 / r_wire_col;
  const int m = r_sink > 0.0 ? R : R - 1;
  const double g_end = r_sink > 0.0 ? 1.0 / r_sink : gw;  // from c_{m-1} to ground
  for (int i = m; i < R; ++i) {  // the grounded node's device: straight to ground
    S[i + i * R] = gi(i);
    a[i] = gi(i);
  }
  if (m == 0) return;

  // Tridiagonal K = chain Laplacian + device and end conductances, factored
  // as K = L D L^T (L unit lower bidiagonal, sub-diagonal l; diagonal d).
  // d_i = h_i + (conductance below node i), where h_i = g_i + gw h_{i-1} / (gw + h_{i-1})
  // is the series-parallel reduction of the chain above: positive terms only,
  // so d carries no cancellation even when gw >> g.
  scratch.resize(3 * static_cast<std::size_t>(m));
  double* l = scratch.data();
  double* inv_d = l + m;
  double* h = inv_d + m;
  for (int i = 0; i < m; ++i) {
    h[i] = i == 0 ? gi(0) : gi(i) + gw * h[i - 1] / (gw + h[i - 1]);
    const double d = h[i] + (i + 1 < m ? gw : g_end);
    if (i > 0) l[i] = -gw * inv_d[i - 1];
    inv_d[i] = 1.0 / d;
  }
  // X = K^{-1} D row by row (vectorised across columns), S = D - D X.
  // S (column-major, symmetric) holds X row i in its column i.
  auto x_row = [&](int i) { return S + static_cast<std::size_t>(i) * R; };
  for (int i = 0; i < m; ++i) {  // L Z = D
    double* zi = x_row(i);
    if (i > 0) {
      const double* zp = x_row(i - 1);
      for (int q = 0; q < i; ++q) zi[q] = -l[i] * zp[q];
    }
    zi[i] = gi(i);
  }
  for (int i = m - 1; i >= 0; --i) {  // L^T X = D^{-1} Z
    double* xi = x_row(i);
    for (int q = 0; q < m; ++q) xi[q] *= inv_d[i];
    if (i + 1 < m) {
      const double* xn = x_row(i + 1);
      for (int q = 0; q < m; ++q) xi[q] -= l[i + 1] * xn[q];
    }
  }
  // Sink weights from the bottom free node's voltage: no cancellation.
  const double* bottom = x_row(m - 1);
  for (int q = 0; q < m; ++q) a[q] = g_end * bottom[q];
  for (int i = 0; i < m; ++i) {
    double* si = x_row(i);
    for (int q = 0; q < m; ++q) si[q] *= -gi(i);  // row i of -D X is column i of S
    si[i] += gi(i);
  }
}

}  // namespace sxb::cpu
