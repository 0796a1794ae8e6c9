#include "engine/crossbar/mapping.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/common/counter_rng.h"

namespace sxb {

std::vector<float> layer_matrix(const float* weight, int outputs, int inputs) {
  std::vector<float> m(static_cast<std::size_t>(inputs) * outputs);
  for (int n = 0; n < outputs; ++n)
    for (int k = 0; k < inputs; ++k)
      m[static_cast<std::size_t>(k) * outputs + n] = weight[static_cast<std::size_t>(n) * inputs + k];
  return m;
}

void weight_from_layer_matrix(const float* matrix, int outputs, int inputs, float* weight) {
  for (int n = 0; n < outputs; ++n)
    for (int k = 0; k < inputs; ++k)
      weight[static_cast<std::size_t>(n) * inputs + k] = matrix[static_cast<std::size_t>(k) * outputs + n];
}

double max_abs(const std::vector<float>& matrix) {
  double m = 0.0;
  for (float w : matrix) m = std::max(m, static_cast<double>(std::fabs(w)));
  return m;
}

namespace {

// The draw stream of one array of one tile: a function of the layer name, the tile and the polarity only.
std::uint64_t draw_stream(const std::string& layer, std::size_t tile_index, int polarity) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the name
  for (unsigned char ch : layer) h = (h ^ ch) * 0x100000001b3ULL;
  return rng::splitmix64(h ^ rng::splitmix64(2 * static_cast<std::uint64_t>(tile_index) + polarity));
}

// Uniform in (0, 1].
double open_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return rng::open_unit_uniform(rng::counter_hash(seed, stream, index));
}

double quantise(double g, const DeviceModel& d) {
  const double steps = d.levels - 1;
  return d.g_min + std::round((g - d.g_min) / (d.g_max - d.g_min) * steps) / steps * (d.g_max - d.g_min);
}

// Quantisation, variation and faults of device `cell` of one array.
double device_conductance(double target, const DeviceModel& d, std::uint64_t stream, std::uint64_t cell) {
  double g = d.levels >= 2 ? quantise(target, d) : target;
  if (d.sigma > 0.0) {
    const double u1 = open_uniform(d.seed, stream, 3 * cell), u2 = open_uniform(d.seed, stream, 3 * cell + 1);
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    g = std::clamp(g * (1.0 + d.sigma * z), d.clamp_low * d.g_min, d.clamp_high * d.g_max);
  }
  if (d.stuck_min > 0.0 || d.stuck_max > 0.0) {
    const double u = open_uniform(d.seed, stream, 3 * cell + 2);
    if (u <= d.stuck_min)
      g = d.g_min;
    else if (u <= d.stuck_min + d.stuck_max)
      g = d.g_max;
  }
  return g;
}

}  // namespace

long long program_tile(const std::vector<float>& matrix, int outputs, const std::string& layer, std::size_t tile_index,
                       const TilePlacement& p, int tile_rows, int tile_cols, double scale,
                       const DeviceModel& devices, double* g_pos, double* g_neg) {
  return program_tile(matrix, outputs, layer, tile_index, p, tile_rows, tile_cols,
                      std::vector<double>(p.cols.size(), scale), devices, g_pos, g_neg);
}

namespace {

// Programs the pair: `fraction(w, scale)` is the share of G_max - G_min of a
// weight w already clipped to its column's scale.
template <class Fraction>
long long program_pair(const std::vector<float>& matrix, int outputs, const std::string& layer,
                       std::size_t draw_index, const TilePlacement& p, int tile_rows, int tile_cols,
                       const std::vector<double>& column_scales, const DeviceModel& devices, double* g_pos,
                       double* g_neg, Fraction fraction) {
  const std::size_t cells = static_cast<std::size_t>(tile_rows) * tile_cols;
  std::fill(g_pos, g_pos + cells, devices.g_min);
  std::fill(g_neg, g_neg + cells, devices.g_min);
  const double range = devices.g_max - devices.g_min;
  long long clipped = 0;
  for (std::size_t i = 0; i < p.rows.size(); ++i)
    for (std::size_t j = 0; j < p.cols.size(); ++j) {
      const double scale = column_scales[j];
      double w = matrix[static_cast<std::size_t>(p.rows[i]) * outputs + p.cols[j]];
      if (std::fabs(w) > scale) {
        ++clipped;
        w = std::copysign(scale, w);
      }
      const double g = range * fraction(w, scale);
      (w > 0.0 ? g_pos : g_neg)[i * tile_cols + j] = devices.g_min + g;
    }
  if (!devices.ideal()) {
    const std::uint64_t pos_stream = draw_stream(layer, draw_index, 0), neg_stream = draw_stream(layer, draw_index, 1);
    for (std::size_t c = 0; c < cells; ++c) {
      g_pos[c] = device_conductance(g_pos[c], devices, pos_stream, c);
      g_neg[c] = device_conductance(g_neg[c], devices, neg_stream, c);
    }
  }
  return clipped;
}

}  // namespace

long long program_tile(const std::vector<float>& matrix, int outputs, const std::string& layer, std::size_t tile_index,
                       const TilePlacement& p, int tile_rows, int tile_cols, const std::vector<double>& column_scales,
                       const DeviceModel& devices, double* g_pos, double* g_neg) {
  return program_pair(matrix, outputs, layer, tile_index, p, tile_rows, tile_cols, column_scales, devices, g_pos,
                      g_neg, [](double w, double scale) { return std::fabs(w) / scale; });
}

long long weight_level(double w, double scale, int weight_bits) {
  const double top = static_cast<double>((1LL << weight_bits) - 1);
  return static_cast<long long>(std::round(std::min(std::fabs(w), scale) / scale * top));
}

int slice_digit(long long level, int slice, int cell_bits) {
  return static_cast<int>((level >> (slice * cell_bits)) & ((1LL << cell_bits) - 1));
}

long long program_tile_slice(const std::vector<float>& matrix, int outputs, const std::string& layer,
                             std::size_t tile_index, std::size_t positions, const TilePlacement& p, int tile_rows,
                             int tile_cols, const std::vector<double>& column_scales, const WeightSlice& slice,
                             const DeviceModel& devices, double* g_pos, double* g_neg) {
  const double top = static_cast<double>((1LL << slice.cell_bits) - 1);
  const long long clipped = program_pair(
      matrix, outputs, layer, tile_index + static_cast<std::size_t>(slice.slice) * positions, p, tile_rows, tile_cols,
      column_scales, devices, g_pos, g_neg, [&](double w, double scale) {
        return slice_digit(weight_level(w, scale, slice.weight_bits), slice.slice, slice.cell_bits) / top;
      });
  return slice.slice == 0 ? clipped : 0;
}

void add_effective_weights(const TilePlacement& p, int tile_rows, const double* t_pos, const double* t_neg,
                           double factor, int outputs, double* w_eff) {
  for (std::size_t j = 0; j < p.cols.size(); ++j) {
    const double* tp = t_pos + j * tile_rows;
    const double* tn = t_neg + j * tile_rows;
    for (std::size_t i = 0; i < p.rows.size(); ++i)
      w_eff[static_cast<std::size_t>(p.rows[i]) * outputs + p.cols[j]] += (tp[i] - tn[i]) * factor;
  }
}

void add_effective_weights(const TilePlacement& p, int tile_rows, const double* t_pos, const double* t_neg,
                           const std::vector<double>& column_factors, int outputs, double* w_eff) {
  for (std::size_t j = 0; j < p.cols.size(); ++j) {
    const double* tp = t_pos + j * tile_rows;
    const double* tn = t_neg + j * tile_rows;
    const double factor = column_factors[j];
    for (std::size_t i = 0; i < p.rows.size(); ++i)
      w_eff[static_cast<std::size_t>(p.rows[i]) * outputs + p.cols[j]] += (tp[i] - tn[i]) * factor;
  }
}

void accumulate_nf(const TilePlacement& p, int tile_rows, int tile_cols, const double* g_pos, const double* g_neg,
                   const double* t_pos, const double* t_neg, NfStats& stats) {
  for (const auto& [g, t] : {std::pair{g_pos, t_pos}, std::pair{g_neg, t_neg}})
    for (std::size_t j = 0; j < p.cols.size(); ++j) {
      double ideal = 0.0, actual = 0.0;
      for (std::size_t i = 0; i < p.rows.size(); ++i) {
        ideal += g[i * tile_cols + j];
        actual += t[j * tile_rows + i];
      }
      const double nf = (ideal - actual) / ideal;
      stats.sum += nf;
      stats.max = std::max(stats.max, nf);
      ++stats.columns;
    }
}

void accumulate_tile_stats(const TilePlacement& p, int tile_rows, int tile_cols, const double* g_pos,
                           const double* g_neg, const double* t_pos, const double* t_neg, double g_threshold,
                           TileStats& stats) {
  NfStats nf{stats.nf_sum, stats.nf_max, stats.nf_columns};  // the same sums, in the same order
  accumulate_nf(p, tile_rows, tile_cols, g_pos, g_neg, t_pos, t_neg, nf);
  stats.nf_sum = nf.sum;
  stats.nf_max = nf.max;
  stats.nf_columns = nf.columns;
  const std::size_t cells = static_cast<std::size_t>(tile_rows) * tile_cols;
  for (const double* g : {g_pos, g_neg}) {
    for (std::size_t c = 0; c < cells; ++c) stats.low_devices += g[c] < g_threshold;
    stats.devices += static_cast<long long>(cells);
  }
}

void accumulate_zero_nf(long long columns, NfStats& stats) { stats.columns += columns; }

}  // namespace sxb
