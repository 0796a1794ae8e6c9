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
  // Column q of X = K^{-1} (g_q e_q); S = D - D X.
  for (int q = 0; q < m; ++q) {
    // L y = g_q e_q (y is zero above q), x = D^{-1} y, L^T x <- x.
    x[q] = gi(q);
    for (int i = q + 1; i < m; ++i) x[i] = -l[i] * x[i - 1];
    for (int i = q; i < m; ++i) x[i] *= inv_d[i];
    for (int i = m - 2; i >= q; --i) x[i] -= l[i + 1] * x[i + 1];
    for (int i = q - 1; i >= 0; --i) x[i] = -l[i + 1] * x[i + 1];
    double* s = S + static_cast<std::size_t>(q) * R;
    for (int p = 0; p < m; ++p) s[p] = -gi(p) * x[p];
    s[q] += gi(q);
  }
}

}  // namespace sxb::cpu
