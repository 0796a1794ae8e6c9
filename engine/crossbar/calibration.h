// Read-out calibration of solved tiles.
//
// The all-V_read read of column j of one array gives I[j] = V_read Σ_i G_eff[i][j]
// instead of I_ideal[j] = V_read Σ_i g[i][j] (G_eff[i][j] = T[j][i], sums over the
// tile's used rows). Its column gain is gain[j] = Σ_i g[i][j] / Σ_i G_eff[i][j] = 1 / (1 − NF[j]).
//   none:   W_eff as solved.
//   column: a per-column gain trim (a calibrated ADC): every used column of every
//           array (g+ and g- separately) is multiplied by its gain before the
//           differential subtraction.
//   layer:  one gain per layer, the mean of the layer's column gains (both arrays,
//           every used column of every tile): W_eff = gain_L · W_eff(none).
#pragma once

#include <string>
#include <vector>

#include "engine/crossbar/layer_layout.h"

namespace sxb {

enum class Calibration { None, Column, Layer };

std::string to_string(Calibration c);  // "none", "column", "layer"
// Error naming `key` (e.g. "crossbar.calibration") for anything else.
Calibration parse_calibration(const std::string& text, const std::string& key);
// The list without repeats, first occurrence kept.
std::vector<Calibration> unique_calibrations(const std::vector<Calibration>& list);

// Column gains of one array: gain[j] = Σ_{i<used_rows} g[i][j] / Σ_{i<used_rows} T[j][i]
// for j < used_cols; g is tile_rows x tile_cols row-major, T tile_cols x tile_rows.
std::vector<double> column_gains(int used_rows, int used_cols, int tile_rows, int tile_cols, const double* g,
                                 const double* t);

// Column-gain statistics over used columns (both arrays of every tile of a layer).
struct GainStats {
  double sum = 0.0, min = 0.0, max = 0.0;
  long long columns = 0;

  void add(const std::vector<double>& gains);
  double mean() const { return columns ? sum / static_cast<double>(columns) : 1.0; }
};

// Adds the tile's column-calibrated effective weights into w_eff (K x N, double):
// w_eff[rows[i]][cols[j]] += (gain+[j] T+[j][i] − gain-[j] T-[j][i]) · factor[j]
// (factor[j] = s_j / (G_max − G_min), s_j the column's mapping scale).
void add_column_calibrated_weights(const TilePlacement& p, int tile_rows, const double* t_pos, const double* t_neg,
                                   const std::vector<double>& gain_pos, const std::vector<double>& gain_neg,
                                   const std::vector<double>& factor, int outputs, double* w_eff);

}  // namespace sxb
