// Admittance of one bit line (column) seen from the row nodes of its devices.
//
// Column j of a tile: device i joins row node r(i,j) (voltage V_i) to column
// node c_i; the column nodes form a chain of r_wire_col segments whose bottom
// reaches ground through r_sink. Eliminating the column nodes gives the R x R
// symmetric positive-definite admittance S with (current into the column from
// row node i) = (S V)_i. The sink current is 1^T S V: all device current
// leaves through the sink, so the column sums of S are the sink's weights.
#pragma once

#include <vector>

namespace sxb::cpu {

// Y (R x R, column-major) += S. g: R device conductances (stride `g_stride`
// apart). a: R sink weights, a = 1^T S in exact arithmetic, computed from the
// bottom node's voltage instead (the column sums cancel badly when r_sink is
// large). scratch: resized as needed. Zero resistances are shorts.
void add_column_admittance(int R, const double* g, int g_stride, double r_wire_col, double r_sink, double* Y,
                           double* a, std::vector<double>& scratch);

}  // namespace sxb::cpu
