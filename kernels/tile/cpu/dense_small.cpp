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
}  // namespace

// Blocked column Gauss-Jordan. For a block K of b <= 8 pivots with pivot
// block D = A[K,K] and panel P = A[:,K]: P' = P~ D^{-1} (P~ is P with rows K
// set to the identity) replaces the panel, and every other column gets
// f = a_j[K]; a_j[K] = 0; a_j -= P' f. That last rank-8 update is the bulk of
// the work; it runs over 16-row strips with the strip of P' held in registers.
SXB_MULTIVERSION bool invert_spd(int n, double* A) {
  constexpr int B = kPivotBlock;
  double D[B * B];
  std::vector<double> panel(static_cast<std::size_t>(n) * B), F(static_cast<std::size_t>(n) * B);
  for (int k0 = 0; k0 < n; k0 += B) {
    const int b = std::min(B, n - k0);
    // D^{-1} by unblocked Gauss-Jordan on the b x b pivot block.
    for (int t = 0; t < b; ++t)
      for (int u = 0; u < b; ++u) D[u + t * b] = col(A, n, k0 + t)[k0 + u];
    for (int k = 0; k < b; ++k) {
      double* dk = D + k * b;
      if (!(dk[k] > 0.0)) return false;
      const double inv = 1.0 / dk[k];
      dk[k] = 1.0;
      for (int u = 0; u < b; ++u) dk[u] *= inv;
      for (int t = 0; t < b; ++t) {
        if (t == k) continue;
        double* dt = D + t * b;
        const double ft = dt[k];
        dt[k] = 0.0;
        for (int u = 0; u < b; ++u) dt[u] -= ft * dk[u];
      }
    }
    // P' = P~ D^{-1}; columns t >= b of the panel stay zero.
    std::fill(panel.begin(), panel.end(), 0.0);
    for (int t = 0; t < b; ++t) {
      double* pt = panel.data() + static_cast<std::size_t>(t) * n;
      for (int u = 0; u < b; ++u) {
        const double* au = col(A, n, k0 + u);
        const double w = D[u + t * b];
#pragma omp simd
        for (int i = 0; i < n; ++i) pt[i] += au[i] * w;
      }
      for (int u = 0; u < b; ++u) pt[k0 + u] = D[u + t * b];
    }
    // F (8 per column) = rows K of the other columns, which are then zeroed.
    for (int j = 0; j < n; ++j) {
      double* fj = F.data() + static_cast<std::size_t>(j) * B;
      double* aj = col(A, n, j);
      for (int t = 0; t < B; ++t) fj[t] = 0.0;
      if (j >= k0 && j < k0 + b) continue;
      for (int t = 0; t < b; ++t) {
        fj[t] = aj[k0 + t];
        aj[k0 + t] = 0.0;
      }
    }
    constexpr int H = 16;  // strip height
    int i0 = 0;
    for (; i0 + H <= n; i0 += H) {
      double p[B][H];
      for (int t = 0; t < B; ++t)
        for (int ii = 0; ii < H; ++ii) p[t][ii] = panel[static_cast<std::size_t>(t) * n + i0 + ii];
      for (int j = 0; j < n; ++j) {
        if (j >= k0 && j < k0 + b) continue;
        double* aj = col(A, n, j) + i0;
        const double* fj = F.data() + static_cast<std::size_t>(j) * B;
#pragma omp simd
        for (int ii = 0; ii < H; ++ii) {
          double s = aj[ii];
#pragma GCC unroll 8
          for (int t = 0; t < B; ++t) s -= p[t][ii] * fj[t];
          aj[ii] = s;
        }
      }
    }
    for (; i0 < n; ++i0)
      for (int j = 0; j < n; ++j) {
        if (j >= k0 && j < k0 + b) continue;
        const double* fj = F.data() + static_cast<std::size_t>(j) * B;
        double s = col(A, n, j)[i0];
        for (int t = 0; t < B; ++t) s -= panel[static_cast<std::size_t>(t) * n + i0] * fj[t];
        col(A, n, j)[i0] = s;
      }
    for (int t = 0; t < b; ++t)
      std::copy(panel.data() + static_cast<std::size_t>(t) * n, panel.data() + static_cast<std::size_t>(t + 1) * n,
                col(A, n, k0 + t));
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
