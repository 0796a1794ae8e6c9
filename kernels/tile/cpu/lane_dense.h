// The sweep's dense kernels on matrices of lane values (lanes.h): the same
// arithmetic on every lane, no operation across lanes.
#pragma once

#include "kernels/tile/cpu/lanes.h"

namespace sxb::cpu {

// Pivots per block of lane_invert_spd; its n must be a multiple of this.
inline constexpr int kLanePivots = 8;

// In place: E (n x n, column-major, lower triangle read; I + E symmetric
// positive definite) <- N = (I + E)^{-1} - I in the lower triangle (the
// strict upper triangle is left undefined), by blocked
// Gauss-Jordan elimination in symmetric form (lane_dense.cpp). Storing the
// difference from I keeps N accurate where E is small: the word-line segment
// needs g_w (I - M) = -g_w N, which the plain inverse M would give only with
// a cancellation of ~log10(g_w / Y) digits.
// panels: 2 n kLanePivots values of workspace. Lanes whose pivot block is
// not positive definite get all bits set in `bad` (their values are then
// meaningless); the other lanes are unaffected.
template <int W>
void lane_invert_spd(int n, Lanes<W>* E, Lanes<W>* panels, LaneMask<W>& bad);

// C (n x m) <- (I + N) X with N n x n symmetric (its lower triangle is read)
// and X n x m, all with leading dimension n; n a multiple of 4.
// Both are instantiated for W = 4 and 8 (lanes.h).
template <int W>
void lane_multiply_shifted(int n, int m, const Lanes<W>* N, const Lanes<W>* X, Lanes<W>* C);

}  // namespace sxb::cpu
