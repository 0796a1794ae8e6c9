// One tile's transfer matrix by the exact column sweep of
// kernels/tile/cpu/tile_sweep.h, run by one thread block:
//
//   Y = 0
//   for j = C-1 .. 0:
//     if j < C-1 and r_wire_row > 0 (g_w = 1/r_wire_row):
//       F F^T = g_w I + Y;  B = F^{-1} Y;  Y -= B^T B         (word-line segment)
//       Q[:, j+1:] = g_w F^{-T} F^{-1} Q[:, j+1:]            (row voltages, Horner)
//     Y += S_j;  Q[:, j] = 1^T S_j                           (bit line j, bit_line.cuh)
//   if r_source > 0:  Q = g_s (g_s I + Y)^{-1} Q              (driver resistance)
//
// Q (R x C column-major) is the tile's transfer output (C x R row-major).
#pragma once

#include <cstddef>

#include "kernels/tile/cuda/bit_line.cuh"
#include "kernels/tile/cuda/block_dense.cuh"
#include "kernels/tile/cuda/tile_job.h"

namespace sxb::cuda {

// Right-hand sides of one sweep step: the n columns of B (alpha 1), then the
// columns of Q from q_first on (alpha = the word-line or source conductance).
struct SweepRhs {
  double* B;
  int ld_B;
  int n_B;
  double* Q_first;
  int ld_Q;
  double alpha_Q;
  SXB_DEVICE double* column(int r) const {
    return r < n_B ? B + at(0, r, ld_B) : Q_first + at(0, r - n_B, ld_Q);
  }
  SXB_DEVICE double alpha(int r) const { return r < n_B ? 1.0 : alpha_Q; }
};

// g: the tile's conductances (R x C row-major). Q: its transfer output.
// scratch: scratch_doubles(R) values (shared or global memory). *status is set
// to 1 if a factorisation fails.
template <class Block>
SXB_DEVICE void sweep_tile(const Block& blk, const TileJob& job, const double* g, double* Q, double* scratch,
                           int* status) {
  const int n = job.rows, C = job.cols;
  if (n <= 0 || C <= 0) return;
  const int ld = scratch_leading_dim(n);
  const std::size_t nn = static_cast<std::size_t>(n) * ld;
  double* Y = scratch;               // admittance of columns j.. seen from row nodes (lower triangle)
  double* F = Y + nn;                // Cholesky factor of the shifted Y
  double* B = F + nn;                // F^{-1} Y; then the bit-line solve's values
  double* inv_diag = B + nn;         // 1 / diag(F)
  double* g_line = inv_diag + n;     // conductances of bit line j
  double* line_factor = g_line + n;  // bit_line_factor of bit line j
  const int tid = blk.thread(), threads = blk.threads();
  const std::size_t col_q = static_cast<std::size_t>(n);  // leading dimension of Q

  // Each bit line's factor is parked in its own (not yet written) column of Q.
  const int factor_size = bit_line_factor_size(n, job.r_wire_col, job.r_sink);
  for (int j = tid; j < C; j += threads) bit_line_factor(n, g + j, C, job.r_wire_col, job.r_sink, Q + j * col_q);
  for (int q = blk.warp(); q < n; q += blk.warps())
    for (int p = q + blk.lane(); p < n; p += kWarpSize) Y[at(p, q, ld)] = 0.0;
  blk.sync();

  for (int j = C - 1; j >= 0; --j) {
    if (j < C - 1 && job.r_wire_row > 0.0) {
      const double g_w = 1.0 / job.r_wire_row;
      shift_and_copy(blk, n, ld, Y, g_w, F, B);
      blk.sync();
      cholesky_lower(blk, n, ld, F, inv_diag, status);
      const SweepRhs rhs{B, ld, n, Q + (j + 1) * col_q, n, g_w};
      const int n_rhs = n + (C - 1 - j);
      forward_solve(blk, n, ld, F, inv_diag, rhs, 0, n_rhs);
      blk.sync();
      backward_solve(blk, n, ld, F, inv_diag, rhs, n, n_rhs);  // Q columns only
      subtract_gram_lower(blk, n, ld, B, Y);
    }
    for (int i = tid; i < n; i += threads) g_line[i] = g[static_cast<std::size_t>(i) * C + j];
    for (int i = tid; i < factor_size; i += threads) line_factor[i] = Q[j * col_q + i];
    blk.sync();
    add_bit_line(blk, n, ld, g_line, line_factor, job.r_wire_col, job.r_sink, Y, B, Q + j * col_q);
    blk.sync();
  }

  if (job.r_source > 0.0) {
    const double g_s = 1.0 / job.r_source;
    shift_and_copy(blk, n, ld, Y, g_s, F, nullptr);
    blk.sync();
    cholesky_lower(blk, n, ld, F, inv_diag, status);
    const SweepRhs rhs{nullptr, ld, 0, Q, n, g_s};
    forward_solve(blk, n, ld, F, inv_diag, rhs, 0, C);
    backward_solve(blk, n, ld, F, inv_diag, rhs, 0, C);
  }
}

}  // namespace sxb::cuda
