// Cooperative dense routines for one thread block working on one tile's
// small column-major matrices (leading dimension `ld`), in shared or global
// memory. `Block` supplies thread(), threads(), lane(), warp(), warps(),
// sync() (the whole block) and sync_warp() (the calling warp).
//
// Conventions: matrices are n x n; lanes walk rows, so warp accesses are
// contiguous, and warps take columns. Each routine says what the caller must
// have synchronised before it and what it leaves unsynchronised.
#pragma once

#include <cmath>
#include <cstddef>

#include "kernels/tile/cuda/tile_job.h"

#if defined(__CUDACC__)
#define SXB_DEVICE __device__ __forceinline__
#define SXB_UNROLL _Pragma("unroll")
#else
#define SXB_DEVICE inline
#define SXB_UNROLL
#endif

namespace sxb::cuda {

SXB_DEVICE std::size_t at(int row, int col, int ld) {
  return static_cast<std::size_t>(col) * ld + row;
}

// F (lower triangle) <- Y + shift I; B (if non-null) <- Y made full from its
// lower triangle (only Y's lower triangle is ever read). No sync inside.
template <class Block>
SXB_DEVICE void shift_and_copy(const Block& blk, int n, int ld, const double* Y, double shift, double* F,
                               double* B) {
  for (int q = blk.warp(); q < n; q += blk.warps()) {
    for (int p = B ? blk.lane() : q + blk.lane(); p < n; p += kWarpSize) {
      const double y = p >= q ? Y[at(p, q, ld)] : Y[at(q, p, ld)];
      if (B) B[at(p, q, ld)] = y;
      if (p >= q) F[at(p, q, ld)] = p == q ? y + shift : y;
    }
  }
}

// In place, lower triangle: F <- L with L L^T = F (right-looking, one block
// sync per step). inv_diag[k] <- 1 / L_kk. Sets *status = 1 if a pivot is not
// positive (never for valid input). Expects F synced; ends synced.
//
// Step k updates the trailing columns with the still unscaled column k
// (F_ij -= F_ik F_jk / F_kk) while it scales column k-1, which no thread
// reads any more; so each step needs a single barrier.
template <class Block>
SXB_DEVICE void cholesky_lower(const Block& blk, int n, int ld, double* F, double* inv_diag, int* status) {
  for (int k = 0; k <= n; ++k) {
    if (k < n) {
      const double* f_k = F + at(0, k, ld);
      const double pivot = f_k[k];
      if (blk.thread() == 0) {
        if (!(pivot > 0.0)) *status = 1;
        inv_diag[k] = 1.0 / sqrt(pivot);
      }
      const double inv_pivot = 1.0 / pivot;
      for (int j = k + 1 + blk.warp(); j < n; j += blk.warps()) {
        double* f_j = F + at(0, j, ld);
        const double l_jk = f_k[j] * inv_pivot;
        for (int i = j + blk.lane(); i < n; i += kWarpSize) f_j[i] -= f_k[i] * l_jk;
      }
    }
    if (k > 0) {
      double* f_prev = F + at(0, k - 1, ld);
      const double scale = inv_diag[k - 1];
      for (int i = k - 1 + blk.thread(); i < n; i += blk.threads()) f_prev[i] *= scale;
    }
    blk.sync();
  }
}

// First right-hand side in [begin, ...) owned by `warp` (r % warps == warp).
SXB_DEVICE int first_owned(int begin, int warp, int warps) {
  return begin + ((warp - begin % warps) % warps + warps) % warps;
}

// Right-hand sides r in [r_begin, r_end): x_r = rhs.column(r) (n values)
// <- rhs.alpha(r) L^{-1} x_r, with L from cholesky_lower. Each warp owns the
// right-hand sides r with r % warps == warp and runs the substitution over
// rows with warp barriers only; row i always stays with lane i % 32. Expects
// L and the right-hand sides synced; ends with a warp barrier, so the same
// warp may go on to backward_solve on the same right-hand sides.
template <class Block, class Rhs>
SXB_DEVICE void forward_solve(const Block& blk, int n, int ld, const double* L, const double* inv_diag,
                              const Rhs& rhs, int r_begin, int r_end) {
  const int lane = blk.lane(), warps = blk.warps();
  const int r_first = first_owned(r_begin, blk.warp(), warps);
  if (r_first >= r_end) return;  // warp-uniform
  for (int k = 0; k < n; ++k) {
    const double* l_k = L + at(0, k, ld);
    const double inv_kk = inv_diag[k];
    const int i_first = k + 1 + ((lane - k - 1) & (kWarpSize - 1));  // first i > k with i % 32 == lane
    for (int r = r_first; r < r_end; r += warps) {
      double* x = rhs.column(r);
      const double x_k = x[k] * inv_kk;
      for (int i = i_first; i < n; i += kWarpSize) x[i] -= l_k[i] * x_k;
    }
    blk.sync_warp();
  }
  for (int r = r_first; r < r_end; r += warps) {
    double* x = rhs.column(r);
    const double alpha = rhs.alpha(r);
    for (int i = lane; i < n; i += kWarpSize) x[i] *= alpha * inv_diag[i];
  }
  blk.sync_warp();
}

// x_r <- L^{-T} x_r for the same ownership as forward_solve. Reads row k of L
// with stride ld (bank-conflict free in shared memory since ld is odd).
// Expects the warp's right-hand sides synced to it; ends with a warp barrier.
template <class Block, class Rhs>
SXB_DEVICE void backward_solve(const Block& blk, int n, int ld, const double* L, const double* inv_diag,
                               const Rhs& rhs, int r_begin, int r_end) {
  const int lane = blk.lane(), warps = blk.warps();
  const int r_first = first_owned(r_begin, blk.warp(), warps);
  if (r_first >= r_end) return;  // warp-uniform
  for (int k = n - 1; k >= 0; --k) {
    const double inv_kk = inv_diag[k];
    for (int r = r_first; r < r_end; r += warps) {
      double* x = rhs.column(r);
      const double x_k = x[k] * inv_kk;
      for (int i = lane; i < k; i += kWarpSize) x[i] -= L[at(k, i, ld)] * x_k;
    }
    blk.sync_warp();
  }
  for (int r = r_first; r < r_end; r += warps) {
    double* x = rhs.column(r);
    for (int i = lane; i < n; i += kWarpSize) x[i] *= inv_diag[i];
  }
  blk.sync_warp();
}

// Lower triangle of Y <- Y - B^T B. Each warp takes four columns q at a time
// (B's column q read by broadcast), lanes take rows p >= q. Expects B synced;
// no sync inside.
template <class Block>
SXB_DEVICE void subtract_gram_lower(const Block& blk, int n, int ld, const double* B, double* Y) {
  constexpr int kCols = 4;
  for (int q0 = kCols * blk.warp(); q0 < n; q0 += kCols * blk.warps()) {
    const double* b_q[kCols];
SXB_UNROLL
    for (int u = 0; u < kCols; ++u) b_q[u] = B + at(0, q0 + u < n ? q0 + u : n - 1, ld);
    for (int p = q0 + blk.lane(); p < n; p += kWarpSize) {
      const double* b_p = B + at(0, p, ld);
      double acc[kCols] = {};
      for (int k = 0; k < n; ++k) {
        const double b_kp = b_p[k];
SXB_UNROLL
        for (int u = 0; u < kCols; ++u) acc[u] += b_kp * b_q[u][k];
      }
SXB_UNROLL
      for (int u = 0; u < kCols; ++u)
        if (q0 + u <= p) Y[at(p, q0 + u, ld)] -= acc[u];
    }
  }
}

}  // namespace sxb::cuda
