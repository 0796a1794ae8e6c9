#include "kernels/tile/cpu/tile_sweep.h"

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "kernels/tile/cpu/column_admittance.h"
#include "kernels/tile/cpu/dense_small.h"
#include "kernels/tile/cpu/lane_sweep.h"
#include "kernels/common/error.h"
#include "kernels/common/multiversion.h"

namespace sxb::cpu {
namespace {

struct SweepWorkspace {
  std::vector<double> Y, F, B, scratch, Q_a, Q_b;
  void resize(int R) {
    const std::size_t n = static_cast<std::size_t>(R) * R;
    Y.resize(n);
    F.resize(n);
    B.resize(n);
  }
};

// F = lower Cholesky factor of (g I + Y).
void factor_shifted(int R, const double* Y, double g, double* F) {
  std::copy(Y, Y + static_cast<std::size_t>(R) * R, F);
  for (int i = 0; i < R; ++i) F[i + i * R] += g;
  SXB_REQUIRE(cholesky_lower(R, F), "tile solver: shifted admittance not positive definite");
}

// X (R x m) <- g (F F^T)^{-1} X.
void apply_shifted_inverse(int R, const double* F, double g, double* X, int m) {
  if (m == 0) return;
  solve_lower(R, F, X, m, g);
  solve_lower_transposed(R, F, X, m);
}

// ws.B <- g (g I + Y)^{-1} = (I + Y / g)^{-1} (= M of the header).
void shifted_inverse(int R, double g, SweepWorkspace& ws) {
  const double inv_g = 1.0 / g;
  for (std::size_t k = 0; k < ws.Y.size(); ++k) ws.B[k] = ws.Y[k] * inv_g;
  for (int i = 0; i < R; ++i) ws.B[i + static_cast<std::size_t>(i) * R] += 1.0;
  SXB_REQUIRE(invert_spd(R, ws.B.data()), "tile solver: shifted admittance not positive definite");
}

double max_diagonal(int R, const std::vector<double>& Y) {
  double m = 0.0;
  for (int i = 0; i < R; ++i) m = std::max(m, Y[i + static_cast<std::size_t>(i) * R]);
  return m;
}

// Word-line segment between columns j and j+1: Y <- W(Y); Q_tail <- M Q_tail,
// where the product is written to Q_out when the inverse form is taken (the
// return value is then true) and Q_tail is updated in place otherwise.
// When `factor_out` is set the product form is used and F is copied there.
bool series_wire(int R, double g, SweepWorkspace& ws, double* Q_tail, double* Q_out, int m, double* factor_out) {
  if (!factor_out && g <= kCancellationLimit * max_diagonal(R, ws.Y)) {
    // M = g A^{-1}, W = g I - g M: one inverse serves both updates.
    shifted_inverse(R, g, ws);
    if (Q_tail && m > 0) multiply(R, m, ws.B.data(), Q_tail, Q_out);
    for (std::size_t k = 0; k < ws.Y.size(); ++k) ws.Y[k] = -g * ws.B[k];
    for (int i = 0; i < R; ++i) ws.Y[i + static_cast<std::size_t>(i) * R] += g;
    return Q_tail != nullptr;
  }
  // Cancellation-free product form: W = Y - B^T B, B = F^{-1} Y.
  factor_shifted(R, ws.Y.data(), g, ws.F.data());
  if (factor_out) std::copy(ws.F.begin(), ws.F.end(), factor_out);
  std::copy(ws.Y.begin(), ws.Y.end(), ws.B.begin());
  solve_lower(R, ws.F.data(), ws.B.data(), R, 1.0);
  subtract_gram(R, ws.B.data(), ws.Y.data());
  if (Q_tail) apply_shifted_inverse(R, ws.F.data(), g, Q_tail, m);
  return false;
}

// Y += S_j; the sink weights a_j written to a.
void add_column(const TileView& t, int j, SweepWorkspace& ws, double* a) {
  add_column_admittance(t.rows, t.conductance + j, t.cols, t.res.r_wire_col, t.res.r_sink, ws.Y.data(), a,
                        ws.scratch);
}

// The sweep. Q (R x C column-major) receives T^T when non-null. When
// `factors` is non-null it receives, per column j >= 1, the Cholesky factor of
// g_w I + Y_j (at factors[j*R*R]), and at column 0 the one of g_s I + Y_0;
// without Q, `a` (R x C) receives the sink weights a_j (with Q they start
// out as its columns). Q or a must be given.
void sweep(const TileView& t, SweepWorkspace& ws, double* Q, double* factors, double* a) {
  const int R = t.rows, C = t.cols;
  const std::size_t RR = static_cast<std::size_t>(R) * R, RC = static_cast<std::size_t>(R) * C;
  const double r_w = t.res.r_wire_row, r_s = t.res.r_source;
  ws.resize(R);
  std::fill(ws.Y.begin(), ws.Y.end(), 0.0);
  SXB_REQUIRE(Q || a, "tile solver: sweep needs an output");
  // With Q, T^T is built in two buffers that take turns as the product's
  // source and destination, and lands in Q with the last step.
  double *cur = nullptr, *next = nullptr;
  if (Q) {
    ws.Q_a.resize(RC);
    ws.Q_b.resize(RC);
    cur = ws.Q_a.data();
    next = ws.Q_b.data();
  }
  for (int j = C - 1; j >= 0; --j) {
    if (j < C - 1 && r_w > 0.0) {
      const std::size_t tail = (j + 1) * static_cast<std::size_t>(R);
      if (series_wire(R, 1.0 / r_w, ws, Q ? cur + tail : nullptr, Q ? next + tail : nullptr, C - 1 - j,
                      factors ? factors + (j + 1) * RR : nullptr))
        std::swap(cur, next);
    }
    // a_j is the new column of Q (T^T[:, j] before the wire and source steps).
    add_column(t, j, ws, (Q ? cur : a) + static_cast<std::size_t>(j) * R);
  }
  if (r_s > 0.0) {
    const double g_s = 1.0 / r_s;
    if (factors) {
      factor_shifted(R, ws.Y.data(), g_s, factors);
    } else if (Q) {
      shifted_inverse(R, g_s, ws);  // P = g_s (g_s I + Y_0)^{-1}; no cancellation in P itself
      multiply(R, C, ws.B.data(), cur, Q);
      return;
    }
  }
  if (Q) std::copy(cur, cur + RC, Q);
}

}  // namespace

double sweep_multiply_adds(int rows, int cols) {
  const double R = rows, C = cols;
  return C * R * R * R / 2 + R * R * (C * (C - 1) / 2 + C) + 2 * R * R * C;
}

void tile_transfer(const TileView& t, double* transfer) {
  SweepWorkspace ws;
  sweep(t, ws, transfer, nullptr, nullptr);  // T (C x R row-major) == T^T (R x C col-major)
}

void tile_currents(const TileView& t, const double* voltages, int n_vec, double* currents) {
  const int R = t.rows, C = t.cols;
  const std::size_t RR = static_cast<std::size_t>(R) * R;
  SweepWorkspace ws;
  std::vector<double> factors(RR * C), a(static_cast<std::size_t>(R) * C);
  sweep(t, ws, nullptr, factors.data(), a.data());
  // V: R x n_vec column-major, i.e. the input vectors as given.
  std::vector<double> V(voltages, voltages + static_cast<std::size_t>(R) * n_vec);
  if (t.res.r_source > 0.0) apply_shifted_inverse(R, factors.data(), 1.0 / t.res.r_source, V.data(), n_vec);
  for (int j = 0; j < C; ++j) {
    if (j > 0 && t.res.r_wire_row > 0.0)
      apply_shifted_inverse(R, factors.data() + j * RR, 1.0 / t.res.r_wire_row, V.data(), n_vec);
    const double* aj = a.data() + static_cast<std::size_t>(j) * R;
    for (int n = 0; n < n_vec; ++n) {
      const double* vn = V.data() + static_cast<std::size_t>(n) * R;
      double sum = 0.0;
      for (int i = 0; i < R; ++i) sum += aj[i] * vn[i];
      currents[static_cast<std::size_t>(n) * C + j] = sum;
    }
  }
}

namespace {
// The lane groups of a batch and the tiles left to the per-tile sweep.
struct LanePlan {
  int width = 0;                                          // 0: no lanes
  std::vector<std::array<std::size_t, kMaxLanes>> groups;  // the first `width` entries are used
  std::vector<int> group_size;  // real tiles in each group; the rest repeat its first
  std::vector<std::size_t> singles;
};

LanePlan plan_lanes(const TileBatch& batch, int width) {
  LanePlan plan;
  plan.width = width;
  // Key: shape and which resistances are zero (std::map: a fixed order).
  std::map<std::array<int, 3>, std::vector<std::size_t>> kinds;
  for (std::size_t k = 0; k < batch.size(); ++k) {
    if (width == 0 || !lane_sweep_fits(batch.rows[k], batch.cols[k])) {
      plan.singles.push_back(k);
      continue;
    }
    const TileResistances& r = batch.resistances_of(k);
    const int zeros = (r.r_source > 0.0) | (r.r_sink > 0.0) << 1 | (r.r_wire_row > 0.0) << 2 | (r.r_wire_col > 0.0) << 3;
    kinds[{batch.rows[k], batch.cols[k], zeros}].push_back(k);
  }
  for (const auto& [key, tiles] : kinds)
    for (std::size_t begin = 0; begin < tiles.size(); begin += width) {
      const int size = static_cast<int>(std::min<std::size_t>(width, tiles.size() - begin));
      std::array<std::size_t, kMaxLanes> group{};
      for (int l = 0; l < width; ++l) group[l] = tiles[begin + (l < size ? l : 0)];
      plan.groups.push_back(group);
      plan.group_size.push_back(size);
    }
  return plan;
}

int lane_width(LaneUse use) {
  switch (use) {
    case LaneUse::native: return native_lane_width();
    case LaneUse::width8: return 8;
    case LaneUse::width4: return 4;
    case LaneUse::never: return 0;
  }
  return 0;
}

// One lane group through lane_transfer; returns the lanes to re-solve.
template <int W>
unsigned solve_group(const TileBatch& batch, const std::array<std::size_t, kMaxLanes>& group, int size,
                     double* transfer, LaneWorkspace<W>& ws) {
  TileView tiles[W];
  double* out[W];
  for (int l = 0; l < W; ++l) {
    tiles[l] = batch.tile(group[l]);
    out[l] = l < size ? transfer + batch.offset[group[l]] : nullptr;
  }
  return lane_transfer<W>(tiles, out, ws);
}
}  // namespace

int native_lane_width() {
  switch (simd_level()) {
    case SimdLevel::avx512: return 8;
    case SimdLevel::avx2: return 4;
    case SimdLevel::baseline: return 0;
  }
  return 0;
}

std::vector<std::size_t> batch_transfer(const TileBatch& batch, double* transfer, LaneUse use) {
  const LanePlan plan = plan_lanes(batch, lane_width(use));
  const long n_groups = static_cast<long>(plan.groups.size());
  const long n_jobs = n_groups + static_cast<long>(plan.singles.size());
  std::vector<char> failed(batch.size(), 0);
#pragma omp parallel
  {
    LaneWorkspace<8> lanes8;
    LaneWorkspace<4> lanes4;
    SweepWorkspace ws;
    // Exceptions must not leave an OpenMP region: a throwing sweep marks its tile.
    auto single = [&](std::size_t k) {
      try {
        sweep(batch.tile(k), ws, transfer + batch.offset[k], nullptr, nullptr);
      } catch (const Error&) {
        failed[k] = 1;
      }
    };
#pragma omp for schedule(dynamic)
    for (long job = 0; job < n_jobs; ++job) {
      if (job >= n_groups) {
        single(plan.singles[job - n_groups]);
        continue;
      }
      const auto& group = plan.groups[job];
      const int size = plan.group_size[job];
      const unsigned redo = plan.width == 8 ? solve_group<8>(batch, group, size, transfer, lanes8)
                                            : solve_group<4>(batch, group, size, transfer, lanes4);
      for (int l = 0; l < size; ++l)
        if (redo >> l & 1u) single(group[l]);
    }
  }
  std::vector<std::size_t> failed_tiles;
  for (std::size_t k = 0; k < failed.size(); ++k)
    if (failed[k]) failed_tiles.push_back(k);
  return failed_tiles;
}

}  // namespace sxb::cpu
