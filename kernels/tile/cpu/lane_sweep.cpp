#include "kernels/tile/cpu/lane_sweep.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "kernels/tile/cpu/lane_column.h"
#include "kernels/tile/cpu/lane_dense.h"
#include "kernels/tile/cpu/tile_sweep.h"

namespace sxb::cpu {

bool lane_sweep_fits(int rows, int cols) {
  const int n = (rows + kLanePivots - 1) / kLanePivots * kLanePivots;
  const double doubles = static_cast<double>(kMaxLanes) * (static_cast<double>(n) * n + 2.0 * n * cols);
  return doubles * sizeof(double) <= 16.0 * (1 << 20);
}

namespace {
// Per lane: g = 1/r where the resistance is not zero (the same in every
// lane), else 0; inv_g = 1/g likewise. (Out-parameters: a vector returned by
// value would change the ABI between the multi-versioned clones.)
template <int W>
void conductances(const TileView (&t)[W], double TileResistances::*r, Lanes<W>& g, Lanes<W>& inv_g) {
  for (int l = 0; l < W; ++l) {
    g[l] = t[l].res.*r > 0.0 ? 1.0 / (t[l].res.*r) : 0.0;
    inv_g[l] = g[l] > 0.0 ? 1.0 / g[l] : 0.0;
  }
}
}  // namespace

template <int W>
unsigned lane_transfer(const TileView (&t)[W], double* const (&transfer)[W], LaneWorkspace<W>& ws) {
  using Lanes = sxb::cpu::Lanes<W>;
  const int R = t[0].rows, C = t[0].cols;
  const int n = (R + kLanePivots - 1) / kLanePivots * kLanePivots;
  const TileResistances& r0 = t[0].res;
  const bool wire = r0.r_wire_row > 0.0, source = r0.r_source > 0.0;
  Lanes g_w, inv_g_w, g_s, inv_g_s, g_wire_col, g_sink, unused;
  conductances(t, &TileResistances::r_wire_row, g_w, inv_g_w);
  conductances(t, &TileResistances::r_source, g_s, inv_g_s);
  conductances(t, &TileResistances::r_wire_col, g_wire_col, unused);
  conductances(t, &TileResistances::r_sink, g_sink, unused);
  const std::size_t nn = static_cast<std::size_t>(n) * n, nC = static_cast<std::size_t>(n) * C;
  ws.A.resize(nn);
  ws.Q_a.resize(nC);
  ws.Q_b.resize(nC);
  ws.panels.resize(2 * static_cast<std::size_t>(n) * kLanePivots);
  for (auto* v : {&ws.g, &ws.rho, &ws.k, &ws.e, &ws.scratch}) v->resize(n);
  std::fill(ws.g.data(), ws.g.data() + n, Lanes{});
  Lanes* A = ws.A.data();
  Lanes* cur = ws.Q_a.data();
  Lanes* next = ws.Q_b.data();
  LaneMask<W> bad = {};
  for (int j = C - 1; j >= 0; --j) {
    if (j < C - 1 && wire) {  // the word-line segment between columns j and j+1
      lane_invert_spd<W>(n, A, ws.panels.data(), bad);
      const std::size_t tail = static_cast<std::size_t>(j + 1) * n;
      lane_multiply_shifted<W>(n, C - 1 - j, A, cur + tail, next + tail);
      std::swap(cur, next);
    }
    for (int i = 0; i < R; ++i)
      for (int l = 0; l < W; ++l) ws.g[i][l] = t[l].conductance[static_cast<std::size_t>(i) * C + j];
    // The sink weights a_j are the new column j of T^T.
    lane_bit_line<W>(R, n, ws.g.data(), r0.r_wire_col > 0.0, r0.r_sink > 0.0, g_wire_col, g_sink, ws.rho.data(),
                  ws.k.data(), cur + static_cast<std::size_t>(j) * n, ws.scratch.data());
    const LaneYSource y_source =
        j == C - 1 ? LaneYSource::Zero : (wire ? LaneYSource::Segment : LaneYSource::Stored);
    const bool next_inverse = j > 0 ? wire : source;
    Lanes y_diag_max = {};
    lane_add_bit_line<W>(n, A, y_source, g_w, ws.g.data(), ws.rho.data(), ws.k.data(), ws.e.data(), next_inverse,
                      j > 0 ? inv_g_w : inv_g_s, y_diag_max);
  }
  if (source) {  // P = (I + Y_0 / g_s)^{-1}, applied as (I + N)
    lane_invert_spd<W>(n, A, ws.panels.data(), bad);
    lane_multiply_shifted<W>(n, C, A, cur, next);
    std::swap(cur, next);
  }
  unsigned bad_lanes = 0;
  for (int l = 0; l < W; ++l)
    if (bad[l]) bad_lanes |= 1u << l;
  for (int l = 0; l < W; ++l) {
    if (!transfer[l] || (bad_lanes >> l & 1u)) continue;
    for (int c = 0; c < C; ++c) {
      const Lanes* q = cur + static_cast<std::size_t>(c) * n;
      double* out = transfer[l] + static_cast<std::size_t>(c) * R;
      for (int i = 0; i < R; ++i) out[i] = q[i][l];
    }
  }
  return bad_lanes;
}

template unsigned lane_transfer<4>(const TileView (&)[4], double* const (&)[4], LaneWorkspace<4>&);
template unsigned lane_transfer<8>(const TileView (&)[8], double* const (&)[8], LaneWorkspace<8>&);

}  // namespace sxb::cpu
