#include "kernels/cpu/tile_sweep.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/column_admittance.h"
#include "kernels/cpu/dense_small.h"
#include "kernels/error.h"

namespace sxb::cpu {
namespace {

struct SweepWorkspace {
  std::vector<double> Y, F, B, scratch;
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

// Y <- W(Y) = Y - B^T B with B = F^{-1} Y, F F^T = g_w I + Y.
void series_wire(int R, SweepWorkspace& ws) {
  std::copy(ws.Y.begin(), ws.Y.end(), ws.B.begin());
  solve_lower(R, ws.F.data(), ws.B.data(), R, 1.0);
  subtract_gram(R, ws.B.data(), ws.Y.data());
}

// Y += S_j (S_j built in ws.B); a_j = column sums of S_j written to a.
void add_column(const TileView& t, int j, SweepWorkspace& ws, double* a) {
  const int R = t.rows;
  column_admittance(R, t.conductance + j, t.cols, t.res.r_wire_col, t.res.r_sink, ws.B.data(), ws.scratch);
  for (int q = 0; q < R; ++q) {
    double sum = 0.0;
    for (int p = 0; p < R; ++p) {
      ws.Y[p + q * R] += ws.B[p + q * R];
      sum += ws.B[p + q * R];
    }
    a[q] = sum;
  }
}

// The sweep. Q (R x C column-major) receives T^T when non-null. When
// `factors` is non-null it receives, per column j >= 1, the Cholesky factor of
// g_w I + Y_j (at factors[j*R*R]), and at column 0 the one of g_s I + Y_0;
// `a` (R x C) receives a_j. Either may be null.
void sweep(const TileView& t, SweepWorkspace& ws, double* Q, double* factors, double* a) {
  const int R = t.rows, C = t.cols;
  const std::size_t RR = static_cast<std::size_t>(R) * R;
  const double r_w = t.res.r_wire_row, r_s = t.res.r_source;
  ws.resize(R);
  std::fill(ws.Y.begin(), ws.Y.end(), 0.0);
  std::vector<double> a_local;
  if (!a) {
    a_local.resize(static_cast<std::size_t>(R) * C);
    a = a_local.data();
  }
  for (int j = C - 1; j >= 0; --j) {
    if (j < C - 1 && r_w > 0.0) {
      const double g_w = 1.0 / r_w;
      factor_shifted(R, ws.Y.data(), g_w, ws.F.data());
      if (factors) std::copy(ws.F.begin(), ws.F.end(), factors + (j + 1) * RR);
      series_wire(R, ws);
      if (Q) apply_shifted_inverse(R, ws.F.data(), g_w, Q + (j + 1) * static_cast<std::size_t>(R), C - 1 - j);
    }
    add_column(t, j, ws, a + static_cast<std::size_t>(j) * R);
    if (Q) std::copy(a + static_cast<std::size_t>(j) * R, a + static_cast<std::size_t>(j + 1) * R,
                     Q + static_cast<std::size_t>(j) * R);
  }
  if (r_s > 0.0) {
    factor_shifted(R, ws.Y.data(), 1.0 / r_s, ws.F.data());
    if (factors) std::copy(ws.F.begin(), ws.F.end(), factors);
    if (Q) apply_shifted_inverse(R, ws.F.data(), 1.0 / r_s, Q, C);
  }
}

}  // namespace

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

std::vector<std::size_t> batch_transfer(const TileBatch& batch, double* transfer) {
  const long n = static_cast<long>(batch.size());
  std::vector<char> failed(batch.size(), 0);
#pragma omp parallel
  {
    SweepWorkspace ws;
#pragma omp for schedule(dynamic)
    for (long k = 0; k < n; ++k) {
      try {
        sweep(batch.tile(k), ws, transfer + batch.offset[k], nullptr, nullptr);
      } catch (const Error&) {
        failed[k] = 1;  // exceptions must not leave an OpenMP region
      }
    }
  }
  std::vector<std::size_t> failed_tiles;
  for (std::size_t k = 0; k < failed.size(); ++k)
    if (failed[k]) failed_tiles.push_back(k);
  return failed_tiles;
}

}  // namespace sxb::cpu
