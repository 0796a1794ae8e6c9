#include "kernels/cpu/column_admittance.h"

#include <algorithm>

namespace sxb::cpu {

void column_admittance(int R, const double* g, int g_stride, double r_wire_col, double r_sink,
                       double* S, std::vector<double>& scratch) {
  std::fill(S, S + static_cast<std::size_t>(R) * R, 0.0);
  auto gi = [&](int i) { return g[static_cast<std::size_t>(i) * g_stride]; };

  if (r_wire_col == 0.0) {
    // The whole bit line is one node, grounded (r_sink = 0) or behind r_sink.
    for (int i = 0; i < R; ++i) S[i + i * R] = gi(i);
    if (r_sink == 0.0) return;
    double total = 1.0 / r_sink;
    for (int i = 0; i < R; ++i) total += gi(i);
    for (int q = 0; q < R; ++q)
      for (int p = 0; p < R; ++p) S[p + q * R] -= gi(p) * gi(q) / total;
    return;
  }

  // Free column nodes c_0..c_{m-1}; with r_sink = 0 the bottom node is ground.
  const double gw = 1.0 / r_wire_col;
  const int m = r_sink > 0.0 ? R : R - 1;
  for (int i = m; i < R; ++i) S[i + i * R] = gi(i);  // device straight to ground
  if (m == 0) return;

  // Tridiagonal K = chain Laplacian + device and sink conductances, factored
  // as K = L D L^T (L unit lower bidiagonal with sub-diagonal l, diagonal d).
  scratch.resize(4 * static_cast<std::size_t>(m));
  double* d = scratch.data();
  double* l = d + m;
  double* x = l + m;
  double* inv_d = x + m;
  for (int i = 0; i < m; ++i) {
    double diag = gi(i) + (i > 0 ? gw : 0.0);
    if (i + 1 < m) diag += gw;
    else diag += r_sink > 0.0 ? 1.0 / r_sink : gw;
    if (i > 0) {
      l[i] = -gw / d[i - 1];
      diag -= l[i] * l[i] * d[i - 1];
    }
    d[i] = diag;
    inv_d[i] = 1.0 / diag;
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
  for (int i = 0; i < m; ++i) {
    double* si = x_row(i);
    for (int q = 0; q < m; ++q) si[q] *= -gi(i);  // row i of -D X is column i of S
    si[i] += gi(i);
  }
}

}  // namespace sxb::cpu
