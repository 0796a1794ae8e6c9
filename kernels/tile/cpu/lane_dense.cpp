#include "kernels/tile/cpu/lane_dense.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "kernels/common/multiversion.h"

namespace sxb::cpu {

namespace {
constexpr int kPivots = kLanePivots;
// Register block of the updates and products: 4 x 4 lane values with 32
// vector registers (AVX-512, W = 8), 4 x 2 with 16 (AVX2, W = 4). The order
// of every sum is the same for both, so a lane's result is too.
constexpr int kRegRows = 4;
template <int W>
constexpr int kRegColsOf = W == 8 ? 4 : 2;

inline std::size_t at(int i, int j, int n) { return static_cast<std::size_t>(i) + static_cast<std::size_t>(j) * n; }

// Pivot block D = I + A[K,K] (lower triangle): Cholesky D = C C^T, returned as
// the lower triangle of C^{-1} (ci[t][u], u <= t). Lanes with a pivot that
// is not positive (or NaN) are marked in `bad`. Inlined into each clone of
// the caller, like every helper here.
template <int W>
[[gnu::always_inline]] inline void pivot_block(const Lanes<W>* A, int n, int k0, Lanes<W> (&ci)[kPivots][kPivots],
                                               LaneMask<W>& bad) {
  using Lanes = sxb::cpu::Lanes<W>;
  constexpr int B = kPivots;
  const Lanes zero = {};
  Lanes c[B][B];
  for (int u = 0; u < B; ++u)
    for (int t = u; t < B; ++t) c[t][u] = A[at(k0 + t, k0 + u, n)];
  for (int u = 0; u < B; ++u) c[u][u] += 1.0;
  for (int u = 0; u < B; ++u) {
    const Lanes p = c[u][u];
    bad |= ~(p > zero);
    Lanes d;
    for (int l = 0; l < W; ++l) d[l] = std::sqrt(p[l]);
    c[u][u] = d;
    const Lanes inv = 1.0 / d;
    for (int t = u + 1; t < B; ++t) c[t][u] *= inv;
    for (int v = u + 1; v < B; ++v)
      for (int t = v; t < B; ++t) c[t][v] -= c[t][u] * c[v][u];
  }
  Lanes inv_diag[B];
  for (int t = 0; t < B; ++t) inv_diag[t] = 1.0 / c[t][t];
  for (int u = 0; u < B; ++u) {
    ci[u][u] = inv_diag[u];
    for (int t = u + 1; t < B; ++t) {
      Lanes s = zero;
      for (int v = u; v < t; ++v) s += c[t][v] * ci[v][u];
      ci[t][u] = -s * inv_diag[t];
    }
  }
}

// A[i0 : i0+4, j0 : j0+cols] -= Gr[i0 : i0+4, :] Gc[j0 : j0+cols, :]^T (rows of the
// panels are kPivots values apart).
template <int W, int kRegCols>
[[gnu::always_inline]] inline void update_block(Lanes<W>* A, int n, int i0, int j0, const Lanes<W>* Gr,
                                                const Lanes<W>* Gc) {
  using Lanes = sxb::cpu::Lanes<W>;
  constexpr int B = kPivots;
  Lanes acc[kRegCols][kRegRows];
#pragma GCC unroll 4
  for (int c = 0; c < kRegCols; ++c)
#pragma GCC unroll 4
    for (int r = 0; r < kRegRows; ++r) acc[c][r] = A[at(i0 + r, j0 + c, n)];
  const Lanes* gr = Gr + static_cast<std::size_t>(i0) * B;
  const Lanes* gc = Gc + static_cast<std::size_t>(j0) * B;
#pragma GCC unroll 8
  for (int t = 0; t < B; ++t) {
    Lanes x[kRegRows], y[kRegCols];
#pragma GCC unroll 4
    for (int r = 0; r < kRegRows; ++r) x[r] = gr[r * B + t];
#pragma GCC unroll 4
    for (int c = 0; c < kRegCols; ++c) y[c] = gc[c * B + t];
#pragma GCC unroll 4
    for (int c = 0; c < kRegCols; ++c)
#pragma GCC unroll 4
      for (int r = 0; r < kRegRows; ++r) acc[c][r] -= x[r] * y[c];
  }
#pragma GCC unroll 4
  for (int c = 0; c < kRegCols; ++c)
#pragma GCC unroll 4
    for (int r = 0; r < kRegRows; ++r) A[at(i0 + r, j0 + c, n)] = acc[c][r];
}

// Rows [i0, i0+4) of N at column k, from the lower triangle only.
template <int W>
[[gnu::always_inline]] inline void lower_rows(const Lanes<W>* N, int n, int i0, int k, Lanes<W> (&x)[kRegRows]) {
#pragma GCC unroll 4
  for (int r = 0; r < kRegRows; ++r) x[r] = i0 + r >= k ? N[at(i0 + r, k, n)] : N[at(k, i0 + r, n)];
}

// C[i0 : i0+4, c0 : c0+NC] = (I + N)[i0 : i0+4, :] X[:, c0 : c0+NC], N
// symmetric, read from its lower triangle.
template <int W, int NC>
[[gnu::always_inline]] inline void product_block(int n, const Lanes<W>* N, const Lanes<W>* X, Lanes<W>* C, int i0,
                                                 int c0) {
  using Lanes = sxb::cpu::Lanes<W>;
  Lanes acc[NC][kRegRows];
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c)
#pragma GCC unroll 4
    for (int r = 0; r < kRegRows; ++r) acc[c][r] = X[at(i0 + r, c0 + c, n)];
  auto step = [&](const Lanes (&x)[kRegRows], int k) {
    Lanes y[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) y[c] = X[at(k, c0 + c, n)];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c)
#pragma GCC unroll 4
      for (int r = 0; r < kRegRows; ++r) acc[c][r] += x[r] * y[c];
  };
  for (int k = 0; k < i0; ++k) {  // left of the block: rows of the lower triangle
    Lanes x[kRegRows];
#pragma GCC unroll 4
    for (int r = 0; r < kRegRows; ++r) x[r] = N[at(i0 + r, k, n)];
    step(x, k);
  }
  for (int k = i0; k < i0 + kRegRows; ++k) {  // the diagonal block
    Lanes x[kRegRows];
    lower_rows<W>(N, n, i0, k, x);
    step(x, k);
  }
  for (int k = i0 + kRegRows; k < n; ++k) {  // right of it: columns, by symmetry
    Lanes x[kRegRows];
#pragma GCC unroll 4
    for (int r = 0; r < kRegRows; ++r) x[r] = N[at(k, i0 + r, n)];
    step(x, k);
  }
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c)
#pragma GCC unroll 4
    for (int r = 0; r < kRegRows; ++r) C[at(i0 + r, c0 + c, n)] = acc[c][r];
}
}  // namespace

// Gauss-Jordan in symmetric form on A = I + E, storing E (every entry of the
// state that tends to 1, its diagonal, is stored as its difference from 1:
// the updates are the same, and N = A^{-1} - I comes out without the
// cancellation of subtracting I from A^{-1}). For a block K of pivots with D = A[K,K]
// and f_i = a_i[K] (the entries of row/column i in the rows/columns K), the
// elimination of K sets, for every i >= j,
//   A[i][j] <- A0[i][j] - s_i f_i D^{-1} f_j^T,
// where A0 is A with the entries f and D set to zero, f_k = -e_k for the
// pivots k in K themselves, s_i = -1 for i before the end of K and +1 after
// it (the state is symmetric except between done and pending pivots, where
// it is antisymmetric, so only i >= j is kept). With D = C C^T and
// G = f C^{-T}, the update is the symmetric rank-8 product
//   A[i][j] -= (s_i G_i) . G_j,
// which also writes the pivot columns (the new panel) and needs n * 8^2 / 2
// multiply-adds for G instead of n * 8^2 for the panel of the plain form.
// Only the lower triangle is read and written (the register blocks on the
// diagonal also write above it; nothing reads there).
template <int W>
SXB_MULTIVERSION void lane_invert_spd(int n, Lanes<W>* A, Lanes<W>* panels, LaneMask<W>& bad) {
  using Lanes = sxb::cpu::Lanes<W>;
  constexpr int B = kPivots, kRegCols = kRegColsOf<W>;
  Lanes* Gr = panels;                                    // s_i G_i
  Lanes* Gc = panels + static_cast<std::size_t>(n) * B;  // G_j
  const Lanes zero = {};
  for (int k0 = 0; k0 < n; k0 += B) {
    const int k1 = k0 + B;
    Lanes ci[B][B], e[B][B];  // e: E_K = D - I, lower
    pivot_block<W>(A, n, k0, ci, bad);
    for (int u = 0; u < B; ++u)
      for (int t = u; t < B; ++t) {
        e[t][u] = A[at(k0 + t, k0 + u, n)];
        A[at(k0 + t, k0 + u, n)] = zero;
      }
    for (int i = 0; i < n; ++i) {
      if (i == k0) {  // the pivots: f = -e, so G = -(rows of C^{-T}), s = -1
        for (int u = 0; u < B; ++u)
          for (int t = 0; t < B; ++t) {
            const Lanes g = t >= u ? ci[t][u] : zero;
            Gc[static_cast<std::size_t>(k0 + u) * B + t] = -g;
            Gr[static_cast<std::size_t>(k0 + u) * B + t] = g;
          }
        i = k1 - 1;
        continue;
      }
      Lanes f[B];
      if (i < k0) {  // a done column: its rows K
        Lanes* a = A + at(k0, i, n);
        for (int u = 0; u < B; ++u) {
          f[u] = a[u];
          a[u] = zero;
        }
      } else {  // a pending row: its columns K
        for (int u = 0; u < B; ++u) {
          Lanes& a = A[at(i, k0 + u, n)];
          f[u] = a;
          a = zero;
        }
      }
      Lanes* gc = Gc + static_cast<std::size_t>(i) * B;
      Lanes* gr = Gr + static_cast<std::size_t>(i) * B;
#pragma GCC unroll 8
      for (int t = 0; t < B; ++t) {
        Lanes g = zero;
        for (int u = 0; u <= t; ++u) g += f[u] * ci[t][u];
        gc[t] = g;
        gr[t] = i < k0 ? -g : g;
      }
    }
    for (int j0 = 0; j0 < n; j0 += kRegCols)  // n is a multiple of 8
      for (int i0 = j0 / kRegRows * kRegRows; i0 < n; i0 += kRegRows) update_block<W, kRegCols>(A, n, i0, j0, Gr, Gc);
    // A[K,K] now holds D^{-1}; its diagonal is stored as D^{-1} - 1, i.e.
    // -(D^{-1} E_K) on the diagonal, which has no cancellation.
    auto dinv = [&](int u, int t) -> const Lanes& { return A[at(k0 + std::max(u, t), k0 + std::min(u, t), n)]; };
    Lanes offset[B];
    for (int u = 0; u < B; ++u) {
      Lanes s = zero;
      for (int t = 0; t < B; ++t) s += dinv(u, t) * (t >= u ? e[t][u] : e[u][t]);
      offset[u] = -s;
    }
    for (int u = 0; u < B; ++u) A[at(k0 + u, k0 + u, n)] = offset[u];
  }
}

template <int W>
SXB_MULTIVERSION void lane_multiply_shifted(int n, int m, const Lanes<W>* N, const Lanes<W>* X, Lanes<W>* C) {
  constexpr int kRegCols = kRegColsOf<W>;
  int c0 = 0;
  for (; c0 + kRegCols <= m; c0 += kRegCols)
    for (int i0 = 0; i0 < n; i0 += kRegRows) product_block<W, kRegCols>(n, N, X, C, i0, c0);
  const int rest = m - c0;
  for (int i0 = 0; i0 < n && rest > 0; i0 += kRegRows) {
    if (rest == 3) product_block<W, 3>(n, N, X, C, i0, c0);
    else if (rest == 2) product_block<W, 2>(n, N, X, C, i0, c0);
    else product_block<W, 1>(n, N, X, C, i0, c0);
  }
}

template void lane_invert_spd<4>(int, Lanes<4>*, Lanes<4>*, LaneMask<4>&);
template void lane_invert_spd<8>(int, Lanes<8>*, Lanes<8>*, LaneMask<8>&);
template void lane_multiply_shifted<4>(int, int, const Lanes<4>*, const Lanes<4>*, Lanes<4>*);
template void lane_multiply_shifted<8>(int, int, const Lanes<8>*, const Lanes<8>*, Lanes<8>*);

}  // namespace sxb::cpu
