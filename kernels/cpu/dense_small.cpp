#include "kernels/cpu/dense_small.h"

#include <cmath>
#include <algorithm>
#include <cstddef>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SXB_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SXB_MULTIVERSION
#endif

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

// a_j -= P f for the b (<= kPivotBlock) panel columns P (n x b, ld n).
template <int B>
inline void rank_update(int n, const double* P, const double* f, double* aj, int b) {
  const int nb = B > 0 ? B : b;
  for (int i = 0; i < n; ++i) {
    double s = 0.0;
    for (int t = 0; t < nb; ++t) s += P[i + static_cast<std::size_t>(t) * n] * f[t];
    aj[i] -= s;
  }
}
}  // namespace

// Blocked column Gauss-Jordan. For a block K of b pivots with pivot block
// D = A[K,K] and panel P = A[:,K]: P' = P~ D^{-1} (P~ is P with rows K set to
// the identity) replaces the panel, and every other column gets
// f = a_j[K]; a_j[K] = 0; a_j -= P' f  -- b FMAs per element loaded and stored.
SXB_MULTIVERSION bool invert_spd(int n, double* A) {
  double D[kPivotBlock * kPivotBlock], f[kPivotBlock];
  std::vector<double> panel(static_cast<std::size_t>(n) * kPivotBlock);
  for (int k0 = 0; k0 < n; k0 += kPivotBlock) {
    const int b = std::min(kPivotBlock, n - k0);
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
    // P' = P~ D^{-1}.
    for (int t = 0; t < b; ++t) {
      double* pt = panel.data() + static_cast<std::size_t>(t) * n;
      std::fill(pt, pt + n, 0.0);
      for (int u = 0; u < b; ++u) {
        const double* au = col(A, n, k0 + u);
        const double w = D[u + t * b];
#pragma omp simd
        for (int i = 0; i < n; ++i) pt[i] += au[i] * w;
      }
      for (int u = 0; u < b; ++u) pt[k0 + u] = D[u + t * b];
    }
    for (int j = 0; j < n; ++j) {
      if (j >= k0 && j < k0 + b) continue;
      double* aj = col(A, n, j);
      for (int t = 0; t < b; ++t) {
        f[t] = aj[k0 + t];
        aj[k0 + t] = 0.0;
      }
      if (b == kPivotBlock) rank_update<kPivotBlock>(n, panel.data(), f, aj, b);
      else rank_update<0>(n, panel.data(), f, aj, b);
    }
    for (int t = 0; t < b; ++t)
      std::copy(panel.data() + static_cast<std::size_t>(t) * n, panel.data() + static_cast<std::size_t>(t + 1) * n,
                col(A, n, k0 + t));
  }
  return true;
}

// 4 x 4 register blocks of dot products over contiguous columns.
SXB_MULTIVERSION void product_tn(int k, int p, int q, double alpha, const double* A, int lda, const double* B,
                                 int ldb, double* C, int ldc, bool a_lower) {
  auto a_col = [&](int c) { return A + static_cast<std::size_t>(c) * lda; };
  auto b_col = [&](int c) { return B + static_cast<std::size_t>(c) * ldb; };
  auto c_at = [&](int r, int c) -> double& { return C[r + static_cast<std::size_t>(c) * ldc]; };
  int c0 = 0;
  for (; c0 + 4 <= q; c0 += 4) {
    const double *b0 = b_col(c0), *b1 = b_col(c0 + 1), *b2 = b_col(c0 + 2), *b3 = b_col(c0 + 3);
    int r0 = 0;
    for (; r0 + 4 <= p; r0 += 4) {
      const double *a0 = a_col(r0), *a1 = a_col(r0 + 1), *a2 = a_col(r0 + 2), *a3 = a_col(r0 + 3);
      double s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      double s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      const int start = a_lower ? r0 : 0;
#pragma omp simd reduction(+ : s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33)
      for (int i = start; i < k; ++i) {
        s00 += a0[i] * b0[i]; s01 += a0[i] * b1[i]; s02 += a0[i] * b2[i]; s03 += a0[i] * b3[i];
        s10 += a1[i] * b0[i]; s11 += a1[i] * b1[i]; s12 += a1[i] * b2[i]; s13 += a1[i] * b3[i];
        s20 += a2[i] * b0[i]; s21 += a2[i] * b1[i]; s22 += a2[i] * b2[i]; s23 += a2[i] * b3[i];
        s30 += a3[i] * b0[i]; s31 += a3[i] * b1[i]; s32 += a3[i] * b2[i]; s33 += a3[i] * b3[i];
      }
      c_at(r0, c0) = alpha * s00; c_at(r0, c0 + 1) = alpha * s01; c_at(r0, c0 + 2) = alpha * s02; c_at(r0, c0 + 3) = alpha * s03;
      c_at(r0 + 1, c0) = alpha * s10; c_at(r0 + 1, c0 + 1) = alpha * s11; c_at(r0 + 1, c0 + 2) = alpha * s12; c_at(r0 + 1, c0 + 3) = alpha * s13;
      c_at(r0 + 2, c0) = alpha * s20; c_at(r0 + 2, c0 + 1) = alpha * s21; c_at(r0 + 2, c0 + 2) = alpha * s22; c_at(r0 + 2, c0 + 3) = alpha * s23;
      c_at(r0 + 3, c0) = alpha * s30; c_at(r0 + 3, c0 + 1) = alpha * s31; c_at(r0 + 3, c0 + 2) = alpha * s32; c_at(r0 + 3, c0 + 3) = alpha * s33;
    }
    for (; r0 < p; ++r0) {
      const double* a0 = a_col(r0);
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      const int start = a_lower ? r0 : 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int i = start; i < k; ++i) {
        s0 += a0[i] * b0[i]; s1 += a0[i] * b1[i]; s2 += a0[i] * b2[i]; s3 += a0[i] * b3[i];
      }
      c_at(r0, c0) = alpha * s0; c_at(r0, c0 + 1) = alpha * s1; c_at(r0, c0 + 2) = alpha * s2; c_at(r0, c0 + 3) = alpha * s3;
    }
  }
  for (; c0 < q; ++c0) {
    const double* b0 = b_col(c0);
    for (int r0 = 0; r0 < p; ++r0) {
      const double* a0 = a_col(r0);
      double s = 0;
      const int start = a_lower ? r0 : 0;
#pragma omp simd reduction(+ : s)
      for (int i = start; i < k; ++i) s += a0[i] * b0[i];
      c_at(r0, c0) = alpha * s;
    }
  }
}

}  // namespace sxb::cpu
