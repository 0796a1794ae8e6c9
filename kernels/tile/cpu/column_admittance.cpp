#include "kernels/tile/cpu/column_admittance.h"

#include <algorithm>

namespace sxb::cpu {

void add_column_admittance(int R, const double* g, int g_stride, double r_wire_col, double r_sink, double* Y,
                           double* a, std::vector<double>& scratch) {
  auto gi = [&](int i) { return g[static_cast<std::size_t>(i) * g_stride]; };
  auto y_col = [&](int i) { return Y + static_cast<std::size_t>(i) * R; };

  if (r_wire_col == 0.0) {
    // The whole bit line is one node, grounded (r_sink = 0) or behind r_sink.
    for (int i = 0; i < R; ++i) y_col(i)[i] += gi(i);
    if (r_sink == 0.0) {
      for (int i = 0; i < R; ++i) a[i] = gi(i);
      return;
    }
    const double g_sink = 1.0 / r_sink;
    double total = g_sink;
    for (int i = 0; i < R; ++i) total += gi(i);
    for (int q = 0; q < R; ++q) {
      a[q] = g_sink * gi(q) / total;
      double* yq = y_col(q);
      for (int p = 0; p < R; ++p) yq[p] -= gi(p) * gi(q) / total;
    }
    return;
  }

  // Free column nodes c_0..c_{m-1}; with r_sink = 0 the bottom node is ground.
  const double gw = 1.0 / r_wire_col;
  const int m = r_sink > 0.0 ? R : R - 1;
  const double g_end = r_sink > 0.0 ? 1.0 / r_sink : gw;  // from c_{m-1} to ground
  for (int i = m; i < R; ++i) {  // the grounded node's device: straight to ground
    y_col(i)[i] += gi(i);
    a[i] = gi(i);
  }
  if (m == 0) return;

  // Tridiagonal K = chain Laplacian + device and end conductances, factored
  // as K = L D L^T (L unit lower bidiagonal, sub-diagonal l; diagonal d).
  // d_i = h_i + (conductance below node i), where h_i = g_i + gw h_{i-1} / (gw + h_{i-1})
  // is the series-parallel reduction of the chain above: positive terms only,
  // so d carries no cancellation even when gw >> g.
  const std::size_t mm = static_cast<std::size_t>(m) * m;
  scratch.resize(3 * static_cast<std::size_t>(m) + mm);
  double* l = scratch.data();
  double* inv_d = l + m;
  double* h = inv_d + m;
  double* X = h + m;  // row i of X = K^{-1} D (contiguous; X is symmetric up to D)
  for (int i = 0; i < m; ++i) {
    h[i] = i == 0 ? gi(0) : gi(i) + gw * h[i - 1] / (gw + h[i - 1]);
    const double d = h[i] + (i + 1 < m ? gw : g_end);
    if (i > 0) l[i] = -gw * inv_d[i - 1];
    inv_d[i] = 1.0 / d;
  }
  auto x_row = [&](int i) { return X + static_cast<std::size_t>(i) * m; };
  for (int i = 0; i < m; ++i) {  // L Z = D: row i of Z is zero past i
    double* zi = x_row(i);
    if (i > 0) {
      const double* zp = x_row(i - 1);
#pragma omp simd
      for (int q = 0; q < i; ++q) zi[q] = -l[i] * zp[q];
    }
    zi[i] = gi(i);
  }
  // L^T X = D^{-1} Z from the bottom up; each finished row i of X gives
  // column i of S = D - D X, added to Y at once.
  for (int i = m - 1; i >= 0; --i) {
    double* xi = x_row(i);
    const double di = inv_d[i];
    if (i + 1 < m) {
      const double* xn = x_row(i + 1);
      const double ln = l[i + 1];
#pragma omp simd
      for (int q = 0; q <= i; ++q) xi[q] = xi[q] * di - ln * xn[q];
#pragma omp simd
      for (int q = i + 1; q < m; ++q) xi[q] = -ln * xn[q];
    } else {
      for (int q = 0; q <= i; ++q) xi[q] *= di;
      // Sink weights from the bottom free node's voltage: no cancellation.
      for (int q = 0; q < m; ++q) a[q] = g_end * xi[q];
    }
    double* yi = y_col(i);
    const double g_i = gi(i);
#pragma omp simd
    for (int q = 0; q < m; ++q) yi[q] -= g_i * xi[q];
    yi[i] += g_i;
  }
}

}  // namespace sxb::cpu
