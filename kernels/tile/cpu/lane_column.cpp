#include "kernels/tile/cpu/lane_column.h"

#include <algorithm>
#include <cstddef>

#include "kernels/common/multiversion.h"

namespace sxb::cpu {

template <int W>
SXB_MULTIVERSION void lane_bit_line(int R, int n, const Lanes<W>* g, bool r_wire_col, bool r_sink,
                                    const Lanes<W>& g_wire_col, const Lanes<W>& g_sink, Lanes<W>* rho, Lanes<W>* k,
                                    Lanes<W>* a, Lanes<W>* scratch) {
  using Lanes = sxb::cpu::Lanes<W>;
  const Lanes zero = {}, one = zero + 1.0;
  for (int i = 0; i < n; ++i) {
    rho[i] = one;
    k[i] = zero;
    a[i] = zero;
  }
  if (!r_wire_col) {  // the whole bit line is one node
    if (!r_sink) {
      for (int i = 0; i < R; ++i) a[i] = g[i];
      return;
    }
    const Lanes gs = g_sink;
    Lanes total = gs;
    for (int i = 0; i < R; ++i) total += g[i];
    for (int i = 0; i < R; ++i) {
      k[i] = g[i] / total;
      a[i] = gs * g[i] / total;
    }
    return;
  }
  // Free column nodes 0..m-1; with r_sink = 0 the bottom node is ground and
  // its device goes straight there (k = 0: S gets g on its diagonal only).
  const Lanes gw = g_wire_col;
  const int m = r_sink ? R : R - 1;
  const Lanes g_end = r_sink ? g_sink : gw;  // from node m-1 to ground
  if (!r_sink) a[R - 1] = g[R - 1];
  if (m == 0) return;
  // d_i = h_i + (conductance below node i), h_i the series-parallel
  // reduction of the chain above (as in column_admittance.cpp).
  Lanes* inv_d = scratch;
  Lanes h = g[0];
  for (int i = 0; i < m; ++i) {
    if (i > 0) h = g[i] + gw * h / (gw + h);
    const Lanes d = h + (i + 1 < m ? gw : g_end);
    inv_d[i] = 1.0 / d;
    rho[i] = gw * inv_d[i];
  }
  // w_q = K^{-1}[q][q]; p_q = K^{-1}[m-1][q] gives the sink weights
  // a_q = g_end g_q p_q (the bottom node's voltage per unit input).
  Lanes w = inv_d[m - 1], p = w;
  k[m - 1] = g[m - 1] * w;
  a[m - 1] = g_end * g[m - 1] * p;
  for (int q = m - 2; q >= 0; --q) {
    w = inv_d[q] + rho[q] * rho[q] * w;
    p = rho[q] * p;
    k[q] = g[q] * w;
    a[q] = g_end * g[q] * p;
  }
}

namespace {
template <int W, LaneYSource kSource, bool kNextInverse>
[[gnu::always_inline]] inline void add_bit_line(int n, Lanes<W>* A, const Lanes<W>& g_w, const Lanes<W>* g,
                                                const Lanes<W>* rho, const Lanes<W>* k, Lanes<W>* e,
                                                const Lanes<W>& inv_g_next, Lanes<W>& y_diag_max) {
  using Lanes = sxb::cpu::Lanes<W>;
  const Lanes gw = g_w, inv = inv_g_next;
  Lanes y_max = y_diag_max;
  for (int i = n - 1; i >= 0; --i) {
    Lanes* ai = A + static_cast<std::size_t>(i) * n;
    const Lanes gi = g[i], ri = rho[i];
    {
      const Lanes ei = k[i];
      e[i] = ei;
      Lanes y = gi - gi * ei;
      if constexpr (kSource == LaneYSource::Segment) y -= gw * ai[i];
      if constexpr (kSource == LaneYSource::Stored) y += ai[i];
      for (int l = 0; l < W; ++l) y_max[l] = std::max(y_max[l], y[l]);
      ai[i] = kNextInverse ? y * inv : y;
    }
    for (int q = i + 1; q < n; ++q) {
      const Lanes eq = e[q] * ri;
      e[q] = eq;
      Lanes y = -(gi * eq);
      if constexpr (kSource == LaneYSource::Segment) y -= gw * ai[q];
      if constexpr (kSource == LaneYSource::Stored) y += ai[q];
      ai[q] = kNextInverse ? y * inv : y;
    }
  }
  y_diag_max = y_max;
}
}  // namespace

template <int W>
SXB_MULTIVERSION void lane_add_bit_line(int n, Lanes<W>* A, LaneYSource source, const Lanes<W>& g_w,
                                        const Lanes<W>* g, const Lanes<W>* rho, const Lanes<W>* k, Lanes<W>* e,
                                        bool next_inverse, const Lanes<W>& inv_g_next, Lanes<W>& y_diag_max) {
  switch (source) {
    case LaneYSource::Zero:
      if (next_inverse) add_bit_line<W, LaneYSource::Zero, true>(n, A, g_w, g, rho, k, e, inv_g_next, y_diag_max);
      else add_bit_line<W, LaneYSource::Zero, false>(n, A, g_w, g, rho, k, e, inv_g_next, y_diag_max);
      return;
    case LaneYSource::Stored:
      if (next_inverse) add_bit_line<W, LaneYSource::Stored, true>(n, A, g_w, g, rho, k, e, inv_g_next, y_diag_max);
      else add_bit_line<W, LaneYSource::Stored, false>(n, A, g_w, g, rho, k, e, inv_g_next, y_diag_max);
      return;
    case LaneYSource::Segment:
      if (next_inverse) add_bit_line<W, LaneYSource::Segment, true>(n, A, g_w, g, rho, k, e, inv_g_next, y_diag_max);
      else add_bit_line<W, LaneYSource::Segment, false>(n, A, g_w, g, rho, k, e, inv_g_next, y_diag_max);
      return;
  }
}

template void lane_bit_line<4>(int, int, const Lanes<4>*, bool, bool, const Lanes<4>&, const Lanes<4>&, Lanes<4>*,
                               Lanes<4>*, Lanes<4>*, Lanes<4>*);
template void lane_bit_line<8>(int, int, const Lanes<8>*, bool, bool, const Lanes<8>&, const Lanes<8>&, Lanes<8>*,
                               Lanes<8>*, Lanes<8>*, Lanes<8>*);
template void lane_add_bit_line<4>(int, Lanes<4>*, LaneYSource, const Lanes<4>&, const Lanes<4>*, const Lanes<4>*,
                                   const Lanes<4>*, Lanes<4>*, bool, const Lanes<4>&, Lanes<4>&);
template void lane_add_bit_line<8>(int, Lanes<8>*, LaneYSource, const Lanes<8>&, const Lanes<8>*, const Lanes<8>*,
                                   const Lanes<8>*, Lanes<8>*, bool, const Lanes<8>&, Lanes<8>&);

}  // namespace sxb::cpu
