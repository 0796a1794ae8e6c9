#include "engine/crossbar/calibration.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/common/error.h"

namespace sxb {

std::string to_string(Calibration c) {
  switch (c) {
    case Calibration::None: return "none";
    case Calibration::Column: return "column";
    case Calibration::Layer: return "layer";
  }
  return "none";
}

Calibration parse_calibration(const std::string& text, const std::string& key) {
  if (text == "none") return Calibration::None;
  if (text == "column") return Calibration::Column;
  if (text == "layer") return Calibration::Layer;
  throw Error(fmt::format("{}: '{}' is not a calibration (none, column, layer)", key, text));
}

std::vector<Calibration> unique_calibrations(const std::vector<Calibration>& list) {
  std::vector<Calibration> out;
  for (Calibration c : list)
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  return out;
}

std::vector<double> column_gains(int used_rows, int used_cols, int tile_rows, int tile_cols, const double* g,
                                 const double* t) {
  std::vector<double> gains(static_cast<std::size_t>(used_cols));
  for (int j = 0; j < used_cols; ++j) {
    double ideal = 0.0, actual = 0.0;
    for (int i = 0; i < used_rows; ++i) {
      ideal += g[static_cast<std::size_t>(i) * tile_cols + j];
      actual += t[static_cast<std::size_t>(j) * tile_rows + i];
    }
    gains[j] = ideal / actual;
  }
  return gains;
}

void GainStats::add(const std::vector<double>& gains) {
  for (double g : gains) {
    min = columns ? std::min(min, g) : g;
    max = columns ? std::max(max, g) : g;
    sum += g;
    ++columns;
  }
}

void add_column_calibrated_weights(const TilePlacement& p, int tile_rows, const double* t_pos, const double* t_neg,
                                   const std::vector<double>& gain_pos, const std::vector<double>& gain_neg,
                                   const std::vector<double>& factor, int outputs, double* w_eff) {
  for (std::size_t j = 0; j < p.cols.size(); ++j) {
    const double* tp = t_pos + j * tile_rows;
    const double* tn = t_neg + j * tile_rows;
    const double gp = gain_pos[j], gn = gain_neg[j];
    for (std::size_t i = 0; i < p.rows.size(); ++i)
      w_eff[static_cast<std::size_t>(p.rows[i]) * outputs + p.cols[j]] += (gp * tp[i] - gn * tn[i]) * factor[j];
  }
}

}  // namespace sxb
