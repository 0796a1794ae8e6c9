#include "engine/crossbar/mapping_scale.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "kernels/common/error.h"

namespace sxb {

std::vector<std::string> scale_mode_names() { return {"layer-max", "tile-max", "column-max", "percentile"}; }

ScaleMode parse_scale_mode(const std::string& name, const std::string& field) {
  const std::vector<std::string> names = scale_mode_names();
  for (std::size_t k = 0; k < names.size(); ++k)
    if (name == names[k]) return static_cast<ScaleMode>(k);
  throw Error(
      fmt::format("{}: unknown mapping scale mode '{}' (choose one of: {})", field, name, fmt::join(names, ", ")));
}

std::string to_string(ScaleMode mode) { return scale_mode_names().at(static_cast<std::size_t>(mode)); }

double percentile_abs(const std::vector<float>& matrix, double percentile) {
  SXB_REQUIRE(std::isfinite(percentile) && percentile > 0.0 && percentile <= 100.0,
              fmt::format("scale_percentile = {} must be in (0, 100]", percentile));
  std::vector<float> a;
  a.reserve(matrix.size());
  for (float w : matrix)
    if (w != 0.0f) a.push_back(std::fabs(w));
  if (a.empty()) return 1.0;
  const double n = static_cast<double>(a.size());
  const double r = percentile / 100.0 * n;
  // The rank ceil(p n / 100), robust to p n / 100 landing a rounding error above an integer.
  const auto rank = std::clamp<long long>(static_cast<long long>(std::ceil(r - 1e-9 * r)), 1,
                                          static_cast<long long>(a.size()));
  std::nth_element(a.begin(), a.begin() + (rank - 1), a.end());
  return static_cast<double>(a[static_cast<std::size_t>(rank - 1)]);
}

double weight_span(const std::vector<float>& matrix) {
  const double median = percentile_abs(matrix, 50.0);
  return percentile_abs(matrix, 100.0) / median;
}

std::vector<double> tile_column_scales(const std::vector<float>& matrix, int outputs, const TilePlacement& p,
                                       ScaleMode mode, double layer_scale) {
  if (mode == ScaleMode::LayerMax || mode == ScaleMode::Percentile)
    return std::vector<double>(p.cols.size(), layer_scale);
  std::vector<double> column_max(p.cols.size(), 0.0);
  for (int k : p.rows) {
    const float* row = matrix.data() + static_cast<std::size_t>(k) * outputs;
    for (std::size_t j = 0; j < p.cols.size(); ++j)
      column_max[j] = std::max(column_max[j], static_cast<double>(std::fabs(row[p.cols[j]])));
  }
  if (mode == ScaleMode::TileMax) {
    const double m = column_max.empty() ? 0.0 : *std::max_element(column_max.begin(), column_max.end());
    std::fill(column_max.begin(), column_max.end(), m);
  }
  for (double& s : column_max)
    if (s == 0.0) s = 1.0;  // nothing to map
  return column_max;
}

}  // namespace sxb
