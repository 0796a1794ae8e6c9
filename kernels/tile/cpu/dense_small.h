// Small dense kernels (n up to ~1024, column-major) for the tile sweep.
//
// Hand-written rather than BLAS because the sweep calls them on 16..128-sized
// blocks from inside an OpenMP loop over tiles: OpenBLAS 0.3.21 (Debian 12)
// serialises such calls and, on virtual CPUs it cannot identify, falls back to
// SSE3 kernels; these loops are compiled for AVX-512/AVX2/baseline and picked
// at run time (function multi-versioning).
#pragma once

namespace sxb::cpu {

// In place: A (lower triangle) <- L with L L^T = A. Returns false unless A is
// positive definite. The strict upper triangle is left untouched.
bool cholesky_lower(int n, double* A);

// X (n x m, leading dimension n) <- alpha L^{-1} X.
void solve_lower(int n, const double* L, double* X, int m, double alpha);

// X (n x m) <- L^{-T} X.
void solve_lower_transposed(int n, const double* L, double* X, int m);

// Y (n x n, full symmetric) <- Y - B^T B, B n x n.
void subtract_gram(int n, const double* B, double* Y);

// In place: A (n x n symmetric positive definite; only the lower triangle is
// read) <- A^{-1} in full storage, by Gauss-Jordan elimination without
// pivoting (the pivots are the positive Schur-complement diagonals) on the
// lower triangle. Returns false if a pivot is not positive.
bool invert_spd(int n, double* A);

// C (n x m) <- A X with A n x n and X n x m, all with leading dimension n.
void multiply(int n, int m, const double* A, const double* X, double* C);

}  // namespace sxb::cpu
