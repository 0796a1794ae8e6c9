#include "kernels/tile/cpu/dense_small.h"

#include <cmath>
#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernels/common/multiversion.h"

namespace sxb::cpu {

namespace {
inline double* col(double* A, int n, int j) { return A + static_cast<std::size_t>(j) * n; }
inline const double* col(const double* A, int n, int j) { return A + static_cast<std::size_t>(j) * n; }
}  // namespace

// Left-looking (column) Cholesky: column j is updated by all earlier columns
// with contiguous axpys, then scaled.
SXB_MULTIVERSION bool cholesky_lower(int n, double* A) {
  for (int j = 0; j < n; ++j) {
    double* aj = col(A, n, j);
    for (int k = 0; k < j; ++k) {
      const double* ak = col(A, n, k);
      const double f = ak[j];
#pragma omp simd
      for (int i = j; i < n; ++i) aj[i] -= f * ak[i];
    }
    if (!(aj[j] > 0.0)) return false;
    const double d = std::sqrt(aj[j]);
    const double inv = 1.0 / d;
    aj[j] = d;
#pragma omp simd
    for (int i = j + 1; i < n; ++i) aj[i] *= inv;
  }
  return true;
}

// Forward substitution, four right-hand sides at a time so each column of L
// is read once per four solves.
SXB_MULTIVERSION void solve_lower(int n, const double* L, double* X, int m, double alpha) {
  int c = 0;
  for (; c + 4 <= m; c += 4) {
    double* x0 = col(X, n, c);
    double* x1 = x0 + n;
    double* x2 = x1 + n;
    double* x3 = x2 + n;
    for (int k = 0; k < n; ++k) {
      const double* lk = col(L, n, k);
      const double inv = 1.0 / lk[k];
      const double a0 = (x0[k] *= inv), a1 = (x1[k] *= inv), a2 = (x2[k] *= inv), a3 = (x3[k] *= inv);
#pragma omp simd
      for (int i = k + 1; i < n; ++i) {
        x0[i] -= a0 * lk[i];
        x1[i] -= a1 * lk[i];
        x2[i] -= a2 * lk[i];
        x3[i] -= a3 * lk[i];
      }
    }
    if (alpha != 1.0)
      for (int i = 0; i < 4 * n; ++i) x0[i] *= alpha;
  }
  for (; c < m; ++c) {
    double* x = col(X, n, c);
    for (int k = 0; k < n; ++k) {
      const double* lk = col(L, n, k);
      const double a = (x[k] /= lk[k]);
#pragma omp simd
      for (int i = k + 1; i < n; ++i) x[i] -= a * lk[i];
    }
    if (alpha != 1.0)
      for (int i = 0; i < n; ++i) x[i] *= alpha;
  }
}

// Backward substitution with L^T: x_k = (x_k - L[k+1:, k] . x[k+1:]) / L_kk.
SXB_MULTIVERSION void solve_lower_transposed(int n, const double* L, double* X, int m) {
  int c = 0;
  for (; c + 4 <= m; c += 4) {
    double* x0 = col(X, n, c);
    double* x1 = x0 + n;
    double* x2 = x1 + n;
    double* x3 = x2 + n;
    for (int k = n - 1; k >= 0; --k) {
      const double* lk = col(L, n, k);
      double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int i = k + 1; i < n; ++i) {
        s0 += lk[i] * x0[i];
        s1 += lk[i] * x1[i];
        s2 += lk[i] * x2[i];
        s3 += lk[i] * x3[i];
      }
      const double inv = 1.0 / lk[k];
      x0[k] = (x0[k] - s0) * inv;
      x1[k] = (x1[k] - s1) * inv;
      x2[k] = (x2[k] - s2) * inv;
      x3[k] = (x3[k] - s3) * inv;
    }
  }
  for (; c < m; ++c) {
    double* x = col(X, n, c);
    for (int k = n - 1; k >= 0; --k) {
      const double* lk = col(L, n, k);
      double s = 0.0;
#pragma omp simd reduction(+ : s)
      for (int i = k + 1; i < n; ++i) s += lk[i] * x[i];
      x[k] = (x[k] - s) / lk[k];
    }
  }
}

// Y[p][q] -= B[:,p] . B[:,q] for q >= p, four q at a time; then mirrored.
SXB_MULTIVERSION void subtract_gram(int n, const double* B, double* Y) {
  for (int p = 0; p < n; ++p) {
    const double* bp = col(B, n, p);
    int q = p;
    for (; q + 4 <= n; q += 4) {
      const double* b0 = col(B, n, q);
      const double* b1 = b0 + n;
      const double* b2 = b1 + n;
      const double* b3 = b2 + n;
      double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int k = 0; k < n; ++k) {
        s0 += bp[k] * b0[k];
        s1 += bp[k] * b1[k];
        s2 += bp[k] * b2[k];
        s3 += bp[k] * b3[k];
      }
      col(Y, n, q)[p] -= s0;
      col(Y, n, q + 1)[p] -= s1;
      col(Y, n, q + 2)[p] -= s2;
      col(Y, n, q + 3)[p] -= s3;
    }
    for (; q < n; ++q) {
      const double* bq = col(B, n, q);
      double s = 0.0;
#pragma omp simd reduction(+ : s)
      for (int k = 0; k < n; ++k) s += bp[k] * bq[k];
      col(Y, n, q)[p] -= s;
    }
  }
  for (int q = 0; q < n; ++q)
    for (int p = q + 1; p < n; ++p) col(Y, n, q)[p] = col(Y, n, p)[q];
}

namespace {
constexpr int kPivotBlock = 8;
constexpr int kStrip = 16;  // rows of the rank-8 update kept in registers

// In place: the 8 x 8 SPD block D (column-major) <- D^{-1} by Gauss-Jordan,
// fully unrolled so that its rows stay in registers. False on a pivot <= 0.
[[gnu::always_inline]] inline bool invert_block8(double* D) {
  constexpr int B = kPivotBlock;
  double r[B][B];
  for (int t = 0; t < B; ++t)
    for (int u = 0; u < B; ++u) r[t][u] = D[u + t * B];
  bool ok = true;
#pragma GCC unroll 8
  for (int k = 0; k < B; ++k) {
    ok = ok && r[k][k] > 0.0;
    const double inv = 1.0 / r[k][k];
    r[k][k] = 1.0;
#pragma GCC unroll 8
    for (int u = 0; u < B; ++u) r[k][u] *= inv;
#pragma GCC unroll 8
    for (int t = 0; t < B; ++t) {
      if (t == k) continue;
      const double f = r[t][k];
      r[t][k] = 0.0;
#pragma GCC unroll 8
      for (int u = 0; u < B; ++u) r[t][u] -= f * r[k][u];
    }
  }
  for (int t = 0; t < B; ++t)
    for (int u = 0; u < B; ++u) D[u + t * B] = r[t][u];
  return ok;
}

// Rows [i0, i0+16) of P' = P~ D^{-1} into p (G = P~ transposed, 8 x n;
// D8 = D^{-1} padded to 8 x 8 with the identity). The helpers here are
// inlined so that they are compiled for each clone of their caller.
[[gnu::always_inline]] inline void panel_strip(const double* G, const double* D8, int n, int i0,
                                               double (&p)[kPivotBlock][kStrip]) {
  constexpr int B = kPivotBlock, H = kStrip;
  for (int t = 0; t < B; ++t) {
    double acc[H] = {};
#pragma GCC unroll 8
    for (int u = 0; u < B; ++u) {
      const double d = D8[u + t * B];
      const double* gu = G + static_cast<std::size_t>(u) * n + i0;
#pragma omp simd
      for (int ii = 0; ii < H; ++ii) acc[ii] += d * gu[ii];
    }
    for (int ii = 0; ii < H; ++ii) p[t][ii] = acc[ii];
  }
}

// A[i0 : i0+16, j] -= P'[i0 : i0+16, :] f_j for the columns j in [j0, j1),
// four at a time (8 independent accumulator chains); p from panel_strip,
// F: the weights, 8 per column (f_j[t] at j*8 + t).
[[gnu::always_inline]] inline void rank8_strip(const double (&p)[kPivotBlock][kStrip], const double* F, double* A,
                                               int n, int i0, int j0, int j1) {
  constexpr int B = kPivotBlock, H = kStrip;
  int j = j0;
  for (; j + 4 <= j1; j += 4) {
    double* a0 = A + static_cast<std::size_t>(j) * n + i0;
    double* a1 = a0 + n;
    double* a2 = a1 + n;
    double* a3 = a2 + n;
    const double* f0 = F + static_cast<std::size_t>(j) * B;
#pragma omp simd
    for (int ii = 0; ii < H; ++ii) {
      double s0 = a0[ii], s1 = a1[ii], s2 = a2[ii], s3 = a3[ii];
#pragma GCC unroll 8
      for (int t = 0; t < B; ++t) {
        s0 -= p[t][ii] * f0[t];
        s1 -= p[t][ii] * f0[t + B];
        s2 -= p[t][ii] * f0[t + 2 * B];
        s3 -= p[t][ii] * f0[t + 3 * B];
      }
      a0[ii] = s0;
      a1[ii] = s1;
      a2[ii] = s2;
      a3[ii] = s3;
    }
  }
  for (; j < j1; ++j) {
    double* a = A + static_cast<std::size_t>(j) * n + i0;
    const double* f = F + static_cast<std::size_t>(j) * B;
#pragma omp simd
    for (int ii = 0; ii < H; ++ii) {
      double s = a[ii];
#pragma GCC unroll 8
      for (int t = 0; t < B; ++t) s -= p[t][ii] * f[t];
      a[ii] = s;
    }
  }
}
}  // namespace

// Blocked Gauss-Jordan on the lower triangle. For a block K of b <= 8 pivots
// with pivot block D = A[K,K] and panel P = A[:,K]: P' = P~ D^{-1} (P~ is P
// with rows K set to the identity) replaces the panel, and every other column
// gets f = a_j[K]; a_j[K] = 0; a_j -= P' f.
// The state stays symmetric except between done (d) and pending (u) pivots,
// where A[d,u] = -A[u,d]^T. So only i >= j is kept, and P~ needs no reads of
// its own: row i of P~ is -f_i for a done pivot i and +f_i for a pending one.
// The rank-8 update (the bulk) touches each column from its diagonal's 16-row
// strip down.
SXB_MULTIVERSION bool invert_spd(int n, double* A) {
  constexpr int B = kPivotBlock, H = kStrip;
  // F: f_j, 8 per column; G: P~ transposed (8 x n). Rows t >= b of both stay
  // zero (only the last block can be narrower than 8).
  const std::size_t nB = static_cast<std::size_t>(n) * B;
  std::vector<double> F(nB), G(nB);
  for (int k0 = 0; k0 < n; k0 += B) {
    const int b = std::min(B, n - k0), k1 = k0 + b;
    if (b < B) {
      std::fill(F.begin(), F.end(), 0.0);
      std::fill(G.begin(), G.end(), 0.0);
    }
    // D8 = D^{-1} by Gauss-Jordan on the pivot block (from the lower
    // triangle), padded with the identity to 8 x 8 (the padding meets only
    // zero weights).
    double D8[B * B];
    for (int t = 0; t < B; ++t)
      for (int u = 0; u < B; ++u)
        D8[u + t * B] = t < b && u < b ? col(A, n, k0 + std::min(t, u))[k0 + std::max(t, u)] : (t == u ? 1.0 : 0.0);
    if (!invert_block8(D8)) return false;
    // f_j = a_j[K]: rows K of done columns (then zeroed), row j of the panel
    // for pending ones. P~^T: -f for done rows, the identity on K, +f below.
    for (int j0 = 0; j0 < k0; j0 += B) {  // 8 x 8 blocks: k0 is a multiple of 8
      double blk[B][B];
      for (int j = 0; j < B; ++j) {
        double* aj = col(A, n, j0 + j) + k0;
        double* fj = F.data() + static_cast<std::size_t>(j0 + j) * B;
        for (int t = 0; t < b; ++t) {
          blk[t][j] = fj[t] = aj[t];
          aj[t] = 0.0;
        }
      }
      for (int t = 0; t < b; ++t)
        for (int j = 0; j < B; ++j) G[static_cast<std::size_t>(t) * n + j0 + j] = -blk[t][j];
    }
    for (int t = 0; t < b; ++t) {
      const double* at = col(A, n, k0 + t);
      double* gt = G.data() + static_cast<std::size_t>(t) * n;
#pragma omp simd
      for (int j = k1; j < n; ++j) gt[j] = at[j];
      for (int u = 0; u < b; ++u) gt[k0 + u] = t == u ? 1.0 : 0.0;
      for (int j = k1; j < n; ++j) F[static_cast<std::size_t>(j) * B + t] = at[j];
    }
    // a_j[i] -= P'[i,:] f_j for i >= j (strip-wise), j outside K; the panel's
    // columns get P' from row k0 down.
    int i0 = 0;
    for (; i0 + H <= n; i0 += H) {
      double p[B][H];
      panel_strip(G.data(), D8, n, i0, p);
      const int j_end = std::min(n, i0 + H);
      rank8_strip(p, F.data(), A, n, i0, 0, std::min(k0, j_end));
      if (k1 < j_end) rank8_strip(p, F.data(), A, n, i0, k1, j_end);
      if (i0 >= k0) {
        for (int t = 0; t < b; ++t)
#pragma omp simd
          for (int ii = 0; ii < H; ++ii) col(A, n, k0 + t)[i0 + ii] = p[t][ii];
      } else if (i0 + H > k0) {  // scalar: a masked vector store is slow on some CPUs
        for (int t = 0; t < b; ++t)
          for (int ii = k0 - i0; ii < H; ++ii) col(A, n, k0 + t)[i0 + ii] = p[t][ii];
      }
    }
    for (; i0 < n; ++i0) {
      double row[B] = {};
      for (int t = 0; t < B; ++t)
        for (int u = 0; u < B; ++u) row[t] += D8[u + t * B] * G[static_cast<std::size_t>(u) * n + i0];
      for (int j = 0; j <= i0; ++j) {
        if (j >= k0 && j < k1) continue;
        const double* fj = F.data() + static_cast<std::size_t>(j) * B;
        double s = col(A, n, j)[i0];
        for (int t = 0; t < B; ++t) s -= row[t] * fj[t];
        col(A, n, j)[i0] = s;
      }
      if (i0 >= k0)
        for (int t = 0; t < b; ++t) col(A, n, k0 + t)[i0] = row[t];
    }
  }
  // Mirror the lower triangle, 8 x 8 blocks at a time.
  for (int j0 = 0; j0 < n; j0 += B)
    for (int i0 = j0; i0 < n; i0 += B) {
      const int bj = std::min(B, n - j0), bi = std::min(B, n - i0);
      double blk[B][B];
      for (int j = 0; j < bj; ++j)
        for (int i = 0; i < bi; ++i) blk[i][j] = col(A, n, j0 + j)[i0 + i];
      if (i0 > j0) {
        for (int i = 0; i < bi; ++i)
          for (int j = 0; j < bj; ++j) col(A, n, i0 + i)[j0 + j] = blk[i][j];
      } else {
        for (int i = 1; i < bi; ++i)
          for (int j = 0; j < i; ++j) col(A, n, i0 + i)[j0 + j] = blk[i][j];
      }
    }
  return true;
}

// 16-row strips of C times 4 columns: 8 accumulators, per k two loads of A
// and four broadcasts of X.
SXB_MULTIVERSION void multiply(int n, int m, const double* A, const double* X, double* C) {
  constexpr int H = 16;
  int i0 = 0;
  for (; i0 + H <= n; i0 += H) {
    int c = 0;
    for (; c + 4 <= m; c += 4) {
      double acc[4][H] = {};
      const double* x0 = col(X, n, c);
      for (int k = 0; k < n; ++k) {
        const double* ak = col(A, n, k) + i0;
        const double b0 = x0[k], b1 = x0[k + n], b2 = x0[k + 2 * n], b3 = x0[k + 3 * n];
#pragma omp simd
        for (int ii = 0; ii < H; ++ii) {
          acc[0][ii] += ak[ii] * b0;
          acc[1][ii] += ak[ii] * b1;
          acc[2][ii] += ak[ii] * b2;
          acc[3][ii] += ak[ii] * b3;
        }
      }
      for (int u = 0; u < 4; ++u)
        for (int ii = 0; ii < H; ++ii) col(C, n, c + u)[i0 + ii] = acc[u][ii];
    }
    for (; c < m; ++c) {
      double acc[H] = {};
      const double* x = col(X, n, c);
      for (int k = 0; k < n; ++k) {
        const double* ak = col(A, n, k) + i0;
#pragma omp simd
        for (int ii = 0; ii < H; ++ii) acc[ii] += ak[ii] * x[k];
      }
      for (int ii = 0; ii < H; ++ii) col(C, n, c)[i0 + ii] = acc[ii];
    }
  }
  for (; i0 < n; ++i0)
    for (int c = 0; c < m; ++c) {
      const double* x = col(X, n, c);
      double s = 0.0;
      for (int k = 0; k < n; ++k) s += col(A, n, k)[i0] * x[k];
      col(C, n, c)[i0] = s;
    }
}

}  // namespace sxb::cpu
