// One bit line of W tiles (lanes.h) at a time: its admittance S added
// to the row admittance Y, and its sink weights a (column_admittance.h has the
// circuit; this is the same elimination in a form without a recurrence over
// rows of a matrix, and it is fused with the sweep's other O(R^2) passes).
//
// With K the tridiagonal conductance matrix of the free column nodes and
// D = diag(g), S = D - D K^{-1} D. K = L diag(d) L^T with L unit lower
// bidiagonal, -L[i+1][i] = rho_i = g_w / d_i, gives for q >= i
//   K^{-1}[q][i] = rho_i rho_{i+1} ... rho_{q-1} w_q,  w_q = 1/d_q + rho_q^2 w_{q+1}
// (positive terms only), so column i of S below the diagonal is
//   S[q][i] = g_i delta_qi - g_i e_i[q],  e_i[q] = rho_i e_{i+1}[q] (q > i),  e_i[i] = k_i = g_i w_i,
// computed column by column from the last one: O(R^2) independent
// multiply-adds per bit line. The other circuits fit the same form: with a
// shorted bit line (r_wire_col = 0) rho = 1 and k_i = g_i / (g_sink + sum g)
// (or 0 when the sink is shorted too); a grounded bottom node has k = 0.
#pragma once

#include "kernels/tile/cpu/lanes.h"

namespace sxb::cpu {

// The coefficients of one bit line. g: the R device conductances (rows
// R..n-1 are padding: zero). rho, k: n values; a: n sink weights (zero past
// R). r_wire_col / r_sink: whether each is non-zero (the same in every lane),
// g_wire_col = 1 / r_wire_col and g_sink = 1 / r_sink per lane where they are.
// scratch: n values.
// Instantiated, like lane_add_bit_line, for W = 4 and 8.
template <int W>
void lane_bit_line(int R, int n, const Lanes<W>* g, bool r_wire_col, bool r_sink, const Lanes<W>& g_wire_col,
                   const Lanes<W>& g_sink, Lanes<W>* rho, Lanes<W>* k, Lanes<W>* a, Lanes<W>* scratch);

// What A holds before the pass, as the source of the row admittance Y:
enum class LaneYSource {
  Zero,     // nothing yet (the first bit line)
  Stored,   // Y itself
  Segment,  // N = (I + Y'/g_w)^{-1} - I of the word-line segment just passed: Y = -g_w N
};

// One pass over the lower triangle of A (n x n): y = Y + S, with Y from
// `source` (g_w per lane for Segment), then A <- y * inv_g_next when
// `next_inverse` (E of I + E, the matrix the next step inverts), A <- y
// otherwise.
// e: n values of workspace. y_diag_max: the largest diagonal of y per lane.
template <int W>
void lane_add_bit_line(int n, Lanes<W>* A, LaneYSource source, const Lanes<W>& g_w, const Lanes<W>* g,
                       const Lanes<W>* rho, const Lanes<W>* k, Lanes<W>* e, bool next_inverse,
                       const Lanes<W>& inv_g_next, Lanes<W>& y_diag_max);

}  // namespace sxb::cpu
